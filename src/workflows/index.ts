// The workflows the worker registers.
export { refundSaga } from './refund-saga';
