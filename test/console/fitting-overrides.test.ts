import { describe, expect, it } from 'vitest';
import { fittingOverrides } from '../../src/console/fitting-overrides';
import type { SagaStatusView, StepName, StepStatus } from '../../src/domain';

/** A saga blocked at `step` by `type`, every earlier step done. */
function blocked(step: StepName, type: string, status: SagaStatusView['status'] = 'needs_attention'): SagaStatusView {
  const done: StepStatus = { state: 'succeeded', attempts: 1 };
  const steps = { payment: done, carbon: done, impact: done, recon: { state: 'pending', attempts: 0 } as StepStatus };
  steps[step] = { state: 'blocked', attempts: 3, lastError: { type, message: `${type} at ${step}` } };
  return {
    orderId: 'ord_1',
    status,
    steps,
    overrides: [],
    startedAt: '2026-11-24T00:00:00.000Z',
    updatedAt: '2026-11-24T00:01:00.000Z',
  };
}

const offered = (view: SagaStatusView) =>
  fittingOverrides(view).map((o) => ({ action: o.action, step: o.step, evidence: o.evidence }));

describe('the overrides the console offers for a block', () => {
  it('offers confirmRecon with evidence required for a recon mismatch, and nothing else', () => {
    expect(offered(blocked('recon', 'ReconMismatch'))).toEqual([
      { action: 'confirmRecon', step: undefined, evidence: 'required' },
    ]);
  });

  it('offers skipStep of the blocked step, evidence optional, when its window has closed', () => {
    expect(offered(blocked('carbon', 'WindowClosed'))).toEqual([
      { action: 'skipStep', step: 'carbon', evidence: 'optional' },
    ]);
  });

  it('offers retryStep of the blocked step after an outage', () => {
    expect(offered(blocked('impact', 'ProviderOutage'))).toEqual([
      { action: 'retryStep', step: 'impact', evidence: undefined },
    ]);
  });

  it('offers more time or a confirmation when the recon deadline passed, and more time or a retry for the payment', () => {
    expect(fittingOverrides(blocked('recon', 'DeadlinePassed')).map((o) => o.action)).toEqual([
      'extendDeadline',
      'confirmRecon',
    ]);
    expect(fittingOverrides(blocked('recon', 'DeadlinePassed'))[0]).toMatchObject({ step: 'recon', duration: true });
    expect(fittingOverrides(blocked('payment', 'DeadlinePassed')).map((o) => [o.action, o.step])).toEqual([
      ['extendDeadline', 'payment'],
      ['retryStep', 'payment'],
    ]);
  });

  it('offers retry or a skip for an error it has no special advice for', () => {
    expect(fittingOverrides(blocked('carbon', 'SettlementFailed')).map((o) => o.action)).toEqual([
      'retryStep',
      'skipStep',
    ]);
  });

  it('offers nothing when nothing is blocked, or the saga is not waiting for an operator', () => {
    const running = blocked('carbon', 'WindowClosed');
    running.steps.carbon = { state: 'in_progress', attempts: 1 };
    expect(fittingOverrides({ ...running, status: 'running' })).toEqual([]);
    expect(fittingOverrides(blocked('carbon', 'WindowClosed', 'aborted'))).toEqual([]);
  });
});
