// Type-checked against the installed package's declarations: the documented imports resolve with their types.
import { startRefund, getRefundStatus, RequestConflictError, retryStepUpdate, type RefundRequest } from 'refund-saga';
import { createActivities } from 'refund-saga/activities';
import { sagaWorkerOptions, type SagaWorkerVersion } from 'refund-saga/worker';
import { startTracing } from 'refund-saga/telemetry';
import { refundSaga } from 'refund-saga/workflows';
import { startSandboxes } from 'refund-saga/sandboxes';

export const checks = [
  startRefund,
  getRefundStatus,
  RequestConflictError,
  retryStepUpdate,
  createActivities,
  sagaWorkerOptions,
  refundSaga,
  startSandboxes,
  startTracing,
];
export const version: SagaWorkerVersion = { deploymentName: 'refund-saga', buildId: '1' };
export const request: Pick<RefundRequest, 'orderId'> = { orderId: 'ord_1' };
