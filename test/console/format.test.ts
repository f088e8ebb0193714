import { describe, expect, it } from 'vitest';
import { age, deadline, duration, time, totals } from '../../src/console/format';

describe('how the console writes times and amounts', () => {
  it('writes a duration in its two largest units, and under a second in milliseconds', () => {
    expect(duration(120)).toBe('120 ms');
    expect(duration(45_000)).toBe('45 s');
    expect(duration(3 * 3_600_000 + 12 * 60_000 + 5_000)).toBe('3 h 12 min');
    expect(duration(2 * 86_400_000 + 5_000)).toBe('2 d');
  });

  it('writes a deadline as time left or time since it passed', () => {
    const now = Date.parse('2026-11-24T12:00:00Z');
    expect(deadline('2026-11-24T14:05:00Z', now)).toBe('in 2 h 5 min');
    expect(deadline('2026-11-24T11:50:00Z', now)).toBe('passed 10 min ago');
    expect(deadline(undefined, now)).toBe('none');
    expect(age('2026-11-24T11:59:15Z', now)).toBe('45 s');
  });

  it('writes times in UTC and sums one currency per entry, in order', () => {
    expect(time('2026-11-24T14:03:07.123Z')).toBe('2026-11-24 14:03:07 UTC');
    expect(totals({ USD: '12.60', EUR: '12.50' })).toEqual(['12.50 EUR', '12.60 USD']);
  });
});
