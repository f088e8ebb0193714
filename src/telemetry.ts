/**
 * OpenTelemetry tracing, on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: one trace runs from an API request (an HTTP
 * server span) through the saga's start (the client interceptor carries the context in the workflow's headers), its
 * workflow and activity spans (the worker's interceptors and span sink), to the provider HTTP calls made inside each
 * activity. Without an endpoint none of it is loaded. Call `startTracing` before the process loads `http` users
 * (Fastify, the provider SDKs), so their calls are traced.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  type OpenTelemetryWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import { telemetryConfig } from './config';

export interface Tracing {
  /** For `new Client({ interceptors })`: a span per client call, its context carried into the saga's headers. */
  clientInterceptors: { workflow: WorkflowClientInterceptor[] };
  /** For the worker: activity spans. */
  activityInterceptors: Pick<WorkerInterceptors, 'activity'>;
  /** For the worker: the sink through which the workflow's spans are exported. */
  sinks: InjectedSinks<{ exporter: OpenTelemetryWorkflowExporter }>;
  /** Exports the spans still buffered. */
  shutdown(): Promise<void>;
}

/** Starts tracing for the process `service` (worker, api, stack), or returns a no-op when no endpoint is set. */
export function startTracing(service: string, config = telemetryConfig()): Tracing | undefined {
  if (!config) return undefined;
  const resource = new Resource({ 'service.name': config.serviceName ?? `refund-saga-${service}` });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: `${config.endpoint}/v1/traces` }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  // The exporter's own requests make no spans: the span processor exports with tracing suppressed.
  registerInstrumentations({ instrumentations: [new HttpInstrumentation(), new UndiciInstrumentation()] });
  return {
    clientInterceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
    activityInterceptors: {
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(spanProcessor, resource) },
    shutdown: () => provider.shutdown(),
  };
}
