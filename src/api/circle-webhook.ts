/**
 * Circle's notifications (registered under `/v1`): a settled cancel makes its saga look at Circle now rather than at
 * its next poll. Circle cannot send the API's bearer token, so the route checks a shared secret of its own.
 */
import type { Client } from '@temporalio/client';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { circleCancelSettledSignal } from '../domain';
import { sendError } from './errors';
import { CircleNotificationBody } from './request-schemas';
import { CircleWebhookAnswer, ErrorEnvelope, json } from './response-schemas';
import { secretMatches } from './secrets';

/** Options of {@link circleWebhook}. */
export interface CircleWebhookOptions {
  client: Client;
  /** Shared secret Circle sends in `X-Webhook-Secret`; without one the route answers 503. */
  secret?: string;
}

/** `POST /webhooks/circle`. */
export const circleWebhook: FastifyPluginCallbackZod<CircleWebhookOptions> = (api, { client, secret }, done) => {
  api.addHook('onRequest', async (request, reply) => {
    if (!secret) {
      return sendError(reply, 503, 'not_configured', 'set CIRCLE_WEBHOOK_SECRET to accept Circle notifications');
    }
    const given = request.headers['x-webhook-secret'];
    if (!secretMatches(typeof given === 'string' ? given : undefined, secret)) {
      return sendError(reply, 401, 'unauthorized', 'missing or wrong X-Webhook-Secret');
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
          401: json(ErrorEnvelope, 'Missing or wrong X-Webhook-Secret'),
          404: json(ErrorEnvelope, 'No running refund for the payment'),
          503: json(ErrorEnvelope, 'No webhook secret is configured'),
        },
      },
      config: { invalidBody: 'expected a Circle notification with payment.id or cancel.originalPayment.id' },
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
