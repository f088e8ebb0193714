// The workflow bundle the tests run: the product's workflows plus test-only probes.
export * from '../../src/workflows';
export * from './harness-probe';
