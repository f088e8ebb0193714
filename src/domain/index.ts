export * from './refund-request';
export * from './saga-state';
export * from './error-types';
export * from './search-attributes';
export * from './overrides';
export * from './idempotency';
export * from './saga-options';
export * from './task-queue';
