/**
 * `refund-saga`: what an order service needs to start and follow refunds. The client helpers, the public contracts
 * (the request schema, the saga status, step names, error types, search attributes), the signal, update and query
 * definitions, and the error classes. The workflow, the activities, the worker options and the sandboxes are
 * separate entry points (`refund-saga/workflows`, `/activities`, `/worker`, `/sandboxes`).
 */
export * from './client';
export * from './domain';
