/**
 * The Circle webhook's guard against replays: a notification's timestamp must be within a window of the clock, and a
 * notification accepted once is refused if it comes again. Each is remembered until its timestamp leaves the window,
 * after which the window refuses it anyway. The memory is this process's own: with several API replicas behind a
 * balancer, a replay sent to another replica is accepted there, and the window is then the only bound on replays
 * (harmless here: a notification only makes a saga look at Circle sooner).
 */
import { createHash } from 'node:crypto';

/** Options of {@link WebhookReplayGuard}. */
export interface WebhookReplayGuardOptions {
  /** How far a timestamp may be from the clock, either way, in seconds. */
  toleranceSeconds: number;
  /** The most notifications remembered at once. @default 100_000 */
  capacity?: number;
  /** @default Date.now */
  now?: () => number;
}

/** What {@link WebhookReplayGuard.accept} made of a notification. */
export type ReplayVerdict = 'accepted' | 'outside_window' | 'replayed' | 'full';

/** How often forgotten notifications are swept out, at most, unless the memory is full. */
const SWEEP_INTERVAL_MS = 10_000;

/** The window, and the notifications accepted within it, by timestamp and body. */
export class WebhookReplayGuard {
  /** The key of each accepted notification → when its timestamp leaves the window (ms). */
  private readonly expiries = new Map<string, number>();
  private readonly windowMs: number;
  private readonly capacity: number;
  private readonly now: () => number;
  private nextSweepMs = 0;

  constructor(options: WebhookReplayGuardOptions) {
    this.windowMs = options.toleranceSeconds * 1000;
    this.capacity = options.capacity ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /** True when `timestampSeconds` is within the window of the clock now. */
  withinWindow(timestampSeconds: number, now: number = this.now()): boolean {
    return Math.abs(now - timestampSeconds * 1000) <= this.windowMs;
  }

  /**
   * Remembers the notification signed at `timestampSeconds` over `body`, unless its timestamp is outside the window,
   * it was accepted before, or the memory is full of notifications still in the window (refused, rather than
   * forgetting one that a replay could then pass). Window and memory are read at the same instant, so a notification
   * is never forgotten while its replay would still be in the window.
   */
  accept(timestampSeconds: number, body: string | Uint8Array): ReplayVerdict {
    const now = this.now();
    if (!this.withinWindow(timestampSeconds, now)) return 'outside_window';
    if (now >= this.nextSweepMs || this.expiries.size >= this.capacity) this.sweep(now);
    // The signed message, not a signature: a replay that lists its signatures otherwise, or keeps only the one under
    // a second secret, is the same notification.
    const key = createHash('sha256').update(`${timestampSeconds}.`).update(body).digest('base64');
    if (this.expiries.has(key)) return 'replayed';
    if (this.expiries.size >= this.capacity) return 'full';
    this.expiries.set(key, timestampSeconds * 1000 + this.windowMs);
    return 'accepted';
  }

  /** How many notifications are remembered. */
  get size(): number {
    return this.expiries.size;
  }

  private sweep(now: number): void {
    for (const [key, expiry] of this.expiries) if (expiry < now) this.expiries.delete(key);
    this.nextSweepMs = now + SWEEP_INTERVAL_MS;
  }
}
