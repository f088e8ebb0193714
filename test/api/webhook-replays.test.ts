import { describe, expect, it } from 'vitest';
import { WebhookReplayGuard } from '../../src/api/webhook-replays';
import { ManualClock } from '../support/sandboxes';

const seconds = (clock: ManualClock) => Math.floor(clock.ms / 1000);

describe('the Circle webhook’s replay guard', () => {
  it('takes a notification once while its timestamp is in the window, and refuses it past the window', () => {
    const clock = new ManualClock();
    const guard = new WebhookReplayGuard({ toleranceSeconds: 300, now: clock.now });
    const signedAt = seconds(clock);
    expect(guard.accept(signedAt, '{"a":1}')).toBe('accepted');
    expect(guard.accept(signedAt, '{"a":1}')).toBe('replayed');
    expect(guard.accept(signedAt + 1, '{"a":1}')).toBe('accepted');
    expect(guard.accept(signedAt, '{"a":2}')).toBe('accepted');
    clock.advance(300_000);
    expect(guard.accept(signedAt, '{"a":1}')).toBe('replayed');
    clock.advance(1);
    expect(guard.accept(signedAt, '{"a":1}')).toBe('outside_window');
  });

  it('forgets notifications once their timestamps have left the window', () => {
    const clock = new ManualClock();
    const guard = new WebhookReplayGuard({ toleranceSeconds: 300, now: clock.now });
    for (let i = 0; i < 50; i++) expect(guard.accept(seconds(clock), `{"n":${i}}`)).toBe('accepted');
    expect(guard.size).toBe(50);
    clock.advance(301_000);
    expect(guard.accept(seconds(clock), '{"n":"later"}')).toBe('accepted');
    expect(guard.size).toBe(1);
  });

  it('refuses a new notification when full of ones still in the window, rather than forget one early', () => {
    const clock = new ManualClock();
    const guard = new WebhookReplayGuard({ toleranceSeconds: 300, capacity: 2, now: clock.now });
    const signedAt = seconds(clock);
    expect(guard.accept(signedAt, 'first')).toBe('accepted');
    expect(guard.accept(signedAt, 'second')).toBe('accepted');
    expect(guard.accept(signedAt, 'third')).toBe('full');
    expect(guard.accept(signedAt, 'first')).toBe('replayed');
    clock.advance(301_000);
    expect(guard.accept(seconds(clock), 'third')).toBe('accepted');
  });
});
