import { describe, expect, it } from 'vitest';
import { ImpactReconClient } from '../../src/providers/impact-recon/client';
import { findReversal } from '../../src/providers/impact-recon/reversal';
import { ImpactReconSandbox } from '../../src/providers/impact-recon/sandbox';
import type { FundsAllocation } from '../../src/providers/impact-recon/schemas';
import { ProviderMalformedResponseError, ProviderValidationError } from '../../src/providers/errors';
import { itClassifiesErrors, useFixedAnswerServer } from '../support/error-contract';
import { ManualClock, rejectionOf, useSandbox } from '../support/sandboxes';
import { readLedger } from './ledger-view';

const clock = new ManualClock(Date.parse('2026-11-22T12:00:00.000Z'));
const { sandbox, url } = useSandbox(new ImpactReconSandbox({ now: clock.now }));
const client = (apiKey = sandbox.apiKey) => new ImpactReconClient({ apiKey, baseUrl: url(), timeoutMs: 2000 });
const ORIGINAL_ID = 'b7e9c4a2-8f31-4d6e-a529-3c7b8e1f0d42';
const DAY = { dateTimeFrom: '2026-11-22T00:00:00Z', dateTimeTo: '2026-11-23T00:00:00Z' };
let oddRecord: unknown = {};
const oddFeed = useFixedAnswerServer(() => oddRecord);

function seedOriginal(fields: Record<string, unknown> = {}): FundsAllocation {
  const { allocations } = sandbox.addFixtures({
    allocations: [
      {
        fundsAllocationId: ORIGINAL_ID,
        fundsDateTime: '2026-11-22T08:00:00Z',
        consumerReference: 'consumer_123',
        ...fields,
      },
    ],
  }) as { allocations: FundsAllocation[] };
  return allocations[0]!;
}

async function readAll(query: Parameters<ImpactReconClient['pages']>[0]) {
  const records: FundsAllocation[] = [];
  let pages = 0;
  for await (const page of client().pages(query)) {
    records.push(...page.data);
    pages++;
  }
  return { records, pages };
}

describe('impact recon client against the recon sandbox', () => {
  it('appends a matching reversal after the reversal delay once the linked impact is cancelled', async () => {
    sandbox.configure({ reversalDelayMs: 60_000 });
    const original = seedOriginal();
    sandbox.reverse(ORIGINAL_ID, clock.ms);
    expect(findReversal(original, (await client().listImpactAllocations(DAY)).data)).toEqual({ kind: 'none' });

    clock.advance(60_000);
    const match = findReversal(original, (await client().listImpactAllocations(DAY)).data);
    expect(match.kind).toBe('matched');
    const reversal = match.kind === 'matched' ? match.record : undefined;
    expect(reversal).toMatchObject({
      reversal: true,
      quoteId: original.quoteId,
      consumerReference: 'consumer_123',
      amounts: original.amounts,
    });
    expect(reversal?.fundsDateTime).toBe(new Date(clock.ms).toISOString());
    expect(await client().getImpactAllocation(reversal!.fundsAllocationId)).toEqual(reversal);
    expect(sandbox.ledgerEntries(ORIGINAL_ID).map((e) => e.effect)).toEqual(['reversal']);
  });

  it('reverses an allocation asked twice once, and records no duplicate attempt: the feed takes no cancels', async () => {
    seedOriginal();
    sandbox.configure({ reversalDelayMs: 0 });
    sandbox.reverse(ORIGINAL_ID, clock.ms);
    sandbox.reverse(ORIGINAL_ID, clock.ms);
    await client().listImpactAllocations(DAY);
    expect(await readLedger(url(), ORIGINAL_ID)).toMatchObject({
      counts: { [ORIGINAL_ID]: { reversal: 1 } },
      duplicateAttempts: {},
    });
  });

  it('produces a reversal with different amounts when the allocation is set to mismatch', async () => {
    const original = seedOriginal({ reversalBehaviour: 'mismatch' });
    sandbox.configure({ reversalDelayMs: 0 });
    sandbox.reverse(ORIGINAL_ID, clock.ms);
    const match = findReversal(original, (await client().listImpactAllocations(DAY)).data);
    expect(match).toMatchObject({ kind: 'mismatched', differences: ['total: expected 12.6, found 11.6'] });
  });

  it('never produces a reversal when set to never', async () => {
    const original = seedOriginal();
    sandbox.configure({ reversalDelayMs: 0, reversalBehaviour: 'never' });
    sandbox.reverse(ORIGINAL_ID, clock.ms);
    clock.advance(86_400_000);
    const { records } = await readAll({ dateTimeFrom: DAY.dateTimeFrom, dateTimeTo: '2026-11-24T00:00:00Z' });
    expect(findReversal(original, records)).toEqual({ kind: 'none' });
  });

  it('reads a window of 300 records across pages in both directions and finds the one reversal among them', async () => {
    sandbox.addFixtures({ generate: { count: 150, from: '2026-11-22T00:00:00Z', spacingSeconds: 60 } });
    const original = seedOriginal({ fundsDateTime: '2026-11-22T02:30:00Z' });
    sandbox.configure({ reversalDelayMs: 0 });
    clock.ms = Date.parse('2026-11-22T03:00:00Z');
    sandbox.reverse(ORIGINAL_ID, clock.ms);
    sandbox.addFixtures({ generate: { count: 148, from: '2026-11-22T03:00:30Z', spacingSeconds: 60 } });

    const forward = await readAll({ ...DAY, limit: 100 });
    expect(forward.records).toHaveLength(300);
    expect(forward.pages).toBe(3);
    expect(findReversal(original, forward.records).kind).toBe('matched');

    const last = forward.records[forward.records.length - 1]!;
    const backward = await readAll({ ...DAY, limit: 100, endingBefore: last.fundsAllocationId });
    expect(backward.records).toHaveLength(299);
    const ids = (rs: FundsAllocation[]) => new Set(rs.map((r) => r.fundsAllocationId));
    expect(ids([...backward.records, last])).toEqual(ids(forward.records));
    expect(findReversal(original, backward.records).kind).toBe('matched');
  });

  it('treats dateTimeFrom as inclusive and dateTimeTo as exclusive', async () => {
    seedOriginal({ fundsDateTime: '2026-11-22T08:00:00Z' });
    const at = { dateTimeFrom: '2026-11-22T08:00:00Z', dateTimeTo: '2026-11-22T08:00:01Z' };
    expect((await client().listImpactAllocations(at)).data).toHaveLength(1);
    const before = { dateTimeFrom: '2026-11-22T07:00:00Z', dateTimeTo: '2026-11-22T08:00:00Z' };
    expect((await client().listImpactAllocations(before)).data).toHaveLength(0);
  });

  it('filters by consumerReference, impactPartnerId and fundsOrganisationId', async () => {
    seedOriginal();
    sandbox.addFixtures({ generate: { count: 5, from: '2026-11-22T09:00:00Z' } });
    expect((await client().listImpactAllocations({ ...DAY, consumerReference: 'consumer_123' })).data).toHaveLength(1);
    expect(
      (await client().listImpactAllocations({ ...DAY, impactPartnerId: '00000000-0000-4000-8000-000000000000' })).data,
    ).toHaveLength(0);
    expect(
      (await client().listImpactAllocations({ ...DAY, fundsOrganisationId: '2f6d6b1f-1c6a-4e9a-9c15-7b8a0db1a2c3' }))
        .data,
    ).toHaveLength(6);
  });

  it.each([
    ['dateTimeFrom', { dateTimeTo: DAY.dateTimeTo }],
    ['dateTimeTo', { dateTimeFrom: DAY.dateTimeFrom }],
    ['limit', { ...DAY, limit: 0 }],
    ['limit', { ...DAY, limit: 101 }],
    ['endingBefore', { ...DAY, startingAfter: ORIGINAL_ID, endingBefore: ORIGINAL_ID }],
  ])('answers 400 naming %s for a bad query', async (param, query) => {
    seedOriginal();
    const err = await rejectionOf(client().listImpactAllocations(query as never));
    expect(err).toBeInstanceOf(ProviderValidationError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_parameter', retryable: false });
    expect((err as Error).message).toContain(param);
  });

  it('reports a record whose fundsDateTime is not a timestamp as a malformed response naming the field', async () => {
    oddRecord = { ...seedOriginal(), fundsDateTime: 'end of day' };
    const odd = new ImpactReconClient({ apiKey: sandbox.apiKey, baseUrl: oddFeed.url(), timeoutMs: 2000 });
    const err = await rejectionOf(odd.getImpactAllocation(ORIGINAL_ID));
    expect(err).toBeInstanceOf(ProviderMalformedResponseError);
    expect(err).toMatchObject({ provider: 'impact_recon', field: 'fundsDateTime', retryable: false });
  });

  itClassifiesErrors(() => ({
    provider: 'impact_recon',
    sandbox,
    route: 'getAllocation',
    read: ({ apiKey, timeoutMs }) =>
      client(apiKey).getImpactAllocation(seedOriginal().fundsAllocationId, { timeoutMs }),
    readMissing: () => client().getImpactAllocation('00000000-0000-4000-8000-000000000000'),
    malformedField: 'fundsAllocationId',
    requestId: /^[0-9a-f-]{36}$/,
  }));
});
