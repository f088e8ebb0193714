/**
 * Circle's notifications (registered under `/v1`): a settled cancel makes its saga look at Circle now rather than at
 * its next poll. Circle cannot send the API's bearer token, so a notification is signed instead
 * (src/providers/circle/webhook-signature.ts): `X-Webhook-Timestamp: <unix seconds>` and
 * `X-Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`. Headers that cannot pass are refused
 * before the body is read; the signature is checked over the body's bytes as sent, before the body's schema; a
 * timestamp outside the window, or a notification already accepted, is refused as a replay (src/api/webhook-replays.ts).
 */
import type { Client } from '@temporalio/client';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { circleCancelSettledSignal } from '../domain';
import {
  circleNotificationSigned,
  parseWebhookSignatures,
  parseWebhookTimestamp,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from '../providers/circle/webhook-signature';
import { sendError } from './errors';
import { CircleNotificationBody } from './request-schemas';
import { CircleWebhookAnswer, ErrorEnvelope, json } from './response-schemas';
import { WebhookReplayGuard } from './webhook-replays';

/** Options of {@link circleWebhook}. */
export interface CircleWebhookOptions {
  client: Client;
  /**
   * The secret notifications are signed with, or several while it is rotated (a signature under any one is taken);
   * without one the route answers 503.
   */
  secret?: string | readonly string[];
  /** How far `X-Webhook-Timestamp` may be from the API's clock, either way. @default 300 */
  toleranceSeconds?: number;
}

/** The signed headers of a notification, or why they cannot pass. */
type SignedHeaders = { timestamp: string; seconds: number; signatures: Buffer[] } | { refusal: string };

const HOW_TO_SIGN =
  `send ${WEBHOOK_TIMESTAMP_HEADER}: <unix seconds> and ` +
  `${WEBHOOK_SIGNATURE_HEADER}: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`;

/** Why a timestamp outside the window is refused. */
const staleMessage = (toleranceSeconds: number) =>
  `${WEBHOOK_TIMESTAMP_HEADER} is more than ${toleranceSeconds} s from the server's clock: sign each delivery when it is sent`;

/** The value of header `name`; a repeated one is read as HTTP reads a list, its values joined by commas. */
function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Reads the signature headers, and refuses missing or malformed ones, naming the header. */
function signedHeaders(request: FastifyRequest, guard: WebhookReplayGuard, toleranceSeconds: number): SignedHeaders {
  const signature = headerValue(request, WEBHOOK_SIGNATURE_HEADER);
  if (signature === undefined) {
    return request.headers['x-webhook-secret'] === undefined
      ? { refusal: `missing ${WEBHOOK_SIGNATURE_HEADER}: the notification must be signed; ${HOW_TO_SIGN}` }
      : { refusal: `X-Webhook-Secret is no longer accepted: the notification must be signed; ${HOW_TO_SIGN}` };
  }
  const timestamp = headerValue(request, WEBHOOK_TIMESTAMP_HEADER);
  if (timestamp === undefined) return { refusal: `missing ${WEBHOOK_TIMESTAMP_HEADER}; ${HOW_TO_SIGN}` };
  const seconds = parseWebhookTimestamp(timestamp);
  if (seconds === undefined) return { refusal: `${WEBHOOK_TIMESTAMP_HEADER} must be unix seconds` };
  const signatures = parseWebhookSignatures(signature);
  if (!signatures) {
    return { refusal: `${WEBHOOK_SIGNATURE_HEADER} must be v1=<hex HMAC-SHA256>, comma-separated if several` };
  }
  if (!guard.withinWindow(seconds)) return { refusal: staleMessage(toleranceSeconds) };
  return { timestamp, seconds, signatures };
}

/** `POST /webhooks/circle`. */
export const circleWebhook: FastifyPluginCallbackZod<CircleWebhookOptions> = (api, options, done) => {
  const { client, toleranceSeconds = 300 } = options;
  const secrets = (typeof options.secret === 'string' ? [options.secret] : (options.secret ?? [])).filter(Boolean);
  const guard = new WebhookReplayGuard({ toleranceSeconds });

  // Before the body is read: a caller without the configuration or plausible headers is not worth reading.
  api.addHook('onRequest', async (request, reply) => {
    if (!secrets.length) {
      return sendError(reply, 503, 'not_configured', 'set CIRCLE_WEBHOOK_SECRET to accept Circle notifications');
    }
    const headers = signedHeaders(request, guard, toleranceSeconds);
    if ('refusal' in headers) return sendError(reply, 401, 'unauthorized', headers.refusal);
  });

  // Once the body is read, before its schema: only a signed body is looked into.
  api.addHook('preValidation', async (request, reply) => {
    const headers = signedHeaders(request, guard, toleranceSeconds);
    if ('refusal' in headers) return sendError(reply, 401, 'unauthorized', headers.refusal);
    const body = request.rawBody ?? Buffer.alloc(0);
    if (!circleNotificationSigned(secrets, headers.timestamp, body, headers.signatures)) {
      return sendError(
        reply,
        401,
        'unauthorized',
        `${WEBHOOK_SIGNATURE_HEADER} does not match the body and ${WEBHOOK_TIMESTAMP_HEADER} under the webhook secret`,
      );
    }
    switch (guard.accept(headers.seconds, body)) {
      case 'accepted':
        return;
      case 'outside_window':
        return sendError(reply, 401, 'unauthorized', staleMessage(toleranceSeconds));
      case 'replayed':
        return sendError(
          reply,
          401,
          'unauthorized',
          `${WEBHOOK_SIGNATURE_HEADER} was already accepted: a notification is taken once; sign each delivery afresh`,
        );
      case 'full':
        return sendError(reply, 503, 'busy', 'too many notifications within the replay window; send it again later');
    }
  });

  api.post(
    '/webhooks/circle',
    {
      schema: {
        // Circle's, not the order service's: kept out of the document the order service reads.
        hide: true,
        body: CircleNotificationBody,
        response: {
          200: json(CircleWebhookAnswer, 'The saga was told'),
          400: json(ErrorEnvelope, 'Not a notification about a payment'),
          401: json(
            ErrorEnvelope,
            `Missing, malformed or wrong ${WEBHOOK_SIGNATURE_HEADER} or ${WEBHOOK_TIMESTAMP_HEADER}, a timestamp ` +
              'outside the window, or a notification already accepted',
          ),
          404: json(ErrorEnvelope, 'No running refund for the payment'),
          503: json(ErrorEnvelope, 'No webhook secret is configured, or too many notifications within the window'),
        },
      },
      config: {
        invalidBody: 'expected a Circle notification with payment.id or cancel.originalPayment.id',
        keepRawBody: true,
      },
    },
    async (request, reply) => {
      const { paymentId } = request.body;
      const found = await client.workflowService.listWorkflowExecutions({
        namespace: client.options.namespace,
        // The schema allows only a UUID here: nothing of the caller's can change the query.
        query: `WorkflowType = 'refundSaga' AND CirclePaymentId = '${paymentId}' AND ExecutionStatus = 'Running'`,
        pageSize: 1,
      });
      const workflowId = found.executions?.[0]?.execution?.workflowId;
      if (!workflowId) return sendError(reply, 404, 'not_found', `no running refund for Circle payment ${paymentId}`);
      await client.workflow.getHandle(workflowId).signal(circleCancelSettledSignal, { paymentId });
      return { signalled: workflowId };
    },
  );
  done();
};
