export * from './refund-request';
export * from './saga-state';
export * from './error-types';
export * from './search-attributes';
