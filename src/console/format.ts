/** How the console's pages write times and amounts: in words an operator reads at a glance, exact on hover. */
import type { Amount } from '../domain';

const UNITS: Array<[ms: number, unit: string]> = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'min'],
  [1000, 's'],
];

/** A duration in its largest unit and the next: `3 h 12 min`, `2 d`, `45 s`; under a second, `120 ms`. */
export function duration(ms: number): string {
  const rest = Math.max(0, Math.round(ms));
  if (rest < 1000) return `${rest} ms`;
  const i = UNITS.findIndex(([size]) => rest >= size);
  const [size, unit] = UNITS[i]!;
  const next = UNITS[i + 1];
  const remainder = next ? Math.floor((rest % size) / next[0]) : 0;
  return `${Math.floor(rest / size)} ${unit}${remainder ? ` ${remainder} ${next![1]}` : ''}`;
}

/** How long ago `iso` was, from `now`: `3 h 12 min`. */
export const age = (iso: string | undefined, now: number): string =>
  iso ? duration(now - Date.parse(iso)) : 'unknown';

/** A deadline from `now`: `in 2 h 5 min` or `passed 10 min ago`. */
export function deadline(iso: string | undefined, now: number): string {
  if (!iso) return 'none';
  const left = Date.parse(iso) - now;
  return left >= 0 ? `in ${duration(left)}` : `passed ${duration(-left)} ago`;
}

/** An ISO time as `2026-11-24 14:03:07 UTC`. */
export const time = (iso: string | undefined): string => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC` : '');

/** An amount as the provider reported it: `12.60 USD`. */
export const amount = (a: Amount | undefined): string => (a ? `${a.value} ${a.currency}` : '—');

/** Sums by currency, one per line: `12.60 USD`. */
export const totals = (byCurrency: Record<string, string>): string[] =>
  Object.entries(byCurrency)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, value]) => `${value} ${currency}`);

/** Words for a step's state or outcome: `needs_attention` → `needs attention`. */
export const words = (value: string | undefined): string => (value ?? '').replace(/_/g, ' ');
