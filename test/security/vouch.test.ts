/** Vouches for overrides: made by the API's client interceptor, checked by the worker (no Temporal server needed). */
import type { WorkflowSignalInput, WorkflowStartUpdateInput } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config';
import {
  canonicalJson,
  formatVouchKeys,
  generateVouchKey,
  makeVouch,
  overrideVouchKeys,
  verifyVouch,
  VOUCH_HEADER,
  vouchInterceptor,
  type VouchedCall,
  type VouchHeader,
} from '../../src/security/vouch';

const key = generateVouchKey('k2');
const older = generateVouchKey('k1');
const NOW = new Date('2026-11-23T23:00:00.000Z');
const call: VouchedCall = {
  namespace: 'default',
  workflowId: 'refund-ord_1',
  name: 'skipStep',
  args: [{ step: 'carbon', operator: 'ops@example.com', reason: 'refunded by hand' }],
};
const [skip] = call.args as [{ step: string; operator: string; reason: string }];
const vouch = (at = NOW, keys = [key]) => makeVouch(keys, call, at);
const verify = (header: unknown, changes: Partial<VouchedCall> = {}, now = NOW) =>
  verifyVouch([key, older], { ...call, ...changes, header, now });
const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);

describe('verifyVouch', () => {
  it('accepts a vouch made for the same call with a key the worker holds, naming the key', () => {
    expect(verify(vouch())).toEqual({ vouched: true, keyId: 'k2' });
    expect(verify(vouch(NOW, [older]))).toEqual({ vouched: true, keyId: 'k1' });
  });

  it('accepts the header as the client sends it (a payload) as well as decoded', () => {
    expect(verify(defaultPayloadConverter.toPayload(vouch()))).toEqual({ vouched: true, keyId: 'k2' });
  });

  it('does not care about the order of the arguments’ keys', () => {
    const reordered = { reason: skip.reason, operator: skip.operator, step: skip.step };
    expect(verify(vouch(), { args: [reordered] })).toMatchObject({ vouched: true });
  });

  it('refuses a bad mac: another reason, operator, step, override, saga or namespace than was vouched for', () => {
    const header = vouch();
    const changes: Array<Partial<VouchedCall>> = [
      { args: [{ ...skip, reason: 'something else' }] },
      { args: [{ ...skip, operator: 'mallory@example.com' }] },
      { args: [{ ...skip, step: 'impact' }] },
      { args: [...call.args, 'extra'] },
      { name: 'abort' },
      { workflowId: 'refund-ord_2' },
      { namespace: 'other' },
    ];
    for (const change of changes) {
      expect(verify(header, change)).toEqual({ vouched: false, reason: expect.stringMatching(/^bad mac/) });
    }
  });

  it('refuses a mac that was tampered with, or whose issuedAt was changed after it was made', () => {
    const header = vouch();
    const flipped = `${header.mac[0] === '0' ? '1' : '0'}${header.mac.slice(1)}`;
    expect(verify({ ...header, mac: flipped })).toMatchObject({
      vouched: false,
      reason: expect.stringMatching(/^bad mac/),
    });
    expect(verify({ ...header, issuedAt: minutes(1).toISOString() })).toMatchObject({
      vouched: false,
      reason: expect.stringMatching(/^bad mac/),
    });
  });

  it('refuses a stale vouch: issued more than 10 minutes before or after the worker’s now', () => {
    expect(verify(vouch(minutes(-10)))).toMatchObject({ vouched: true });
    expect(verify(vouch(minutes(-11)))).toEqual({ vouched: false, reason: expect.stringMatching(/^stale: .* ago$/) });
    expect(verify(vouch(minutes(11)))).toEqual({ vouched: false, reason: expect.stringMatching(/^stale: .* ahead$/) });
  });

  it('refuses a vouch made with a key the worker does not hold (rotated out), naming the key id', () => {
    const retired = generateVouchKey('k0');
    expect(verify(vouch(NOW, [retired]))).toEqual({
      vouched: false,
      reason: expect.stringContaining('unknown key id "k0"'),
    });
  });

  it('refuses a missing or malformed header, naming the bad fields and never their values', () => {
    const good = vouch();
    expect(verify(undefined)).toEqual({ vouched: false, reason: 'no vouch header' });
    expect(verify(null)).toEqual({ vouched: false, reason: 'no vouch header' });
    const malformed: Array<[unknown, string]> = [
      ['a string', 'header'],
      [42, 'header'],
      [[good], 'header'],
      [{ ...good, v: 2 }, 'v'],
      [{ ...good, keyId: 'no spaces allowed' }, 'keyId'],
      [{ ...good, issuedAt: 'yesterday' }, 'issuedAt'],
      [{ ...good, mac: good.mac.toUpperCase() }, 'mac'],
      [{ ...good, mac: good.mac.slice(2) }, 'mac'],
      [{ ...good, operator: 'ops@example.com' }, 'header'],
      [{ keyId: 'k2' }, 'v, issuedAt, mac'],
    ];
    for (const [header, fields] of malformed) {
      const verdict = verify(header);
      expect(verdict).toEqual({ vouched: false, reason: `malformed vouch header (${fields})` });
    }
    const notJson: Payload = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{') };
    expect(verify(notJson)).toEqual({ vouched: false, reason: expect.stringMatching(/^malformed vouch header/) });
  });

  it('carries no personal data and no secret in the header', () => {
    const header = vouch();
    expect(Object.keys(header).sort()).toEqual(['issuedAt', 'keyId', 'mac', 'v']);
    const text = JSON.stringify(header);
    expect(text).not.toContain('ops@example.com');
    expect(text).not.toContain('refunded by hand');
    expect(text).not.toContain(key.secret.toString('base64'));
    expect(text).not.toContain(key.secret.toString('hex'));
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and keeps arrays in order', () => {
    expect(canonicalJson([{ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } }])).toBe(
      '[{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}]',
    );
  });

  it('drops undefined members and applies toJSON, as the payload converter does', () => {
    expect(canonicalJson({ b: undefined, a: new Date(0) })).toBe('{"a":"1970-01-01T00:00:00.000Z"}');
  });
});

describe('vouchInterceptor', () => {
  const interceptor = vouchInterceptor([key, older], { namespace: 'default', now: () => NOW });
  const headerOf = (headers: Record<string, Payload>) =>
    headers[VOUCH_HEADER] && defaultPayloadConverter.fromPayload<VouchHeader>(headers[VOUCH_HEADER]);

  it('vouches for an override update with the newest key, and the worker accepts it', async () => {
    let sent: WorkflowStartUpdateInput | undefined;
    const input = {
      updateName: 'skipStep',
      args: call.args,
      workflowExecution: { workflowId: call.workflowId },
      headers: { other: defaultPayloadConverter.toPayload('kept') },
      options: { waitForStage: 'ACCEPTED' },
    } as unknown as WorkflowStartUpdateInput;
    await interceptor.startUpdate!(input, (i) => {
      sent = i;
      return Promise.resolve({ updateId: 'u', workflowRunId: 'r', outcome: undefined });
    });
    const header = headerOf(sent!.headers);
    expect(header).toMatchObject({ v: 1, keyId: 'k2', issuedAt: NOW.toISOString() });
    expect(sent!.headers.other).toBeDefined();
    expect(verify(header)).toEqual({ vouched: true, keyId: 'k2' });
  });

  it('vouches for override signals, and leaves other signals as they are', async () => {
    const sent: WorkflowSignalInput[] = [];
    const signal = (signalName: string) =>
      interceptor.signal!(
        { signalName, args: [skip], workflowExecution: { workflowId: call.workflowId }, headers: {} },
        (i) => {
          sent.push(i);
          return Promise.resolve();
        },
      );
    await signal('skipStep');
    await signal('circleCancelSettled');
    expect(verify(headerOf(sent[0]!.headers))).toEqual({ vouched: true, keyId: 'k2' });
    expect(sent[1]!.headers).toEqual({});
  });
});

describe('OVERRIDE_VOUCH_KEYS', () => {
  const secret = Buffer.alloc(32, 7).toString('base64');

  it('reads comma-separated id:base64secret keys, newest first; none when unset or empty', () => {
    const keys = overrideVouchKeys({
      OVERRIDE_VOUCH_KEYS: `k2:${secret}, k1:${Buffer.alloc(48, 1).toString('base64')}`,
    });
    expect(keys.map((k) => [k.id, k.secret.length])).toEqual([
      ['k2', 32],
      ['k1', 48],
    ]);
    expect(overrideVouchKeys({})).toEqual([]);
    expect(overrideVouchKeys({ OVERRIDE_VOUCH_KEYS: ' ' })).toEqual([]);
  });

  it('reads back what formatVouchKeys writes', () => {
    const keys = [key, older];
    expect(overrideVouchKeys({ OVERRIDE_VOUCH_KEYS: formatVouchKeys(keys) })).toEqual(keys);
  });

  it('names the variable and the key in its errors, and never the secret', () => {
    const short = Buffer.alloc(16, 9).toString('base64');
    const cases: Array<[string, RegExp]> = [
      [`k1:${short}`, /key 0 \("k1"\): secret must be base64 of at least 32 bytes/],
      [`k1:not base64!!${secret}`, /key 0 \("k1"\): secret must be base64/],
      [`k1${secret}`, /key 0 must be "id:base64secret"/],
      [`k1:${secret},k1:${secret}`, /key 1 \("k1"\): id is given twice/],
      [`bad id:${secret}`, /key 0: id must be/],
    ];
    for (const [value, message] of cases) {
      const error = (() => {
        try {
          overrideVouchKeys({ OVERRIDE_VOUCH_KEYS: value });
        } catch (err) {
          return err as Error;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect(error!.message).toMatch(/^invalid OVERRIDE_VOUCH_KEYS: /);
      expect(error!.message).toMatch(message);
      expect(error!.message).not.toContain(secret);
      expect(error!.message).not.toContain(short);
    }
  });
});
