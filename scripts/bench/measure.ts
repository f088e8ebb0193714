/**
 * What the bench reads: CPU time and RSS of processes from /proc, the Temporal server's `action` counter from its
 * Prometheus endpoint, and billable actions counted from workflow histories.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { temporal } from '@temporalio/proto';
import { temporal as proto } from '@temporalio/proto';

const EventType = proto.api.enums.v1.EventType;
type History = temporal.api.history.v1.IHistory;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const CLK_TCK = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number(out.stdout?.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
})();

/** utime + stime of every process in process group `pgid` (a Managed process and its children), in ms. */
export function groupCpuMs(pgid: number | undefined): number {
  if (!pgid) return 0;
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the command name (which may hold spaces): state ppid pgrp … utime (12th) stime (13th).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) !== pgid) continue;
    ticks += Number(rest[11]) + Number(rest[12]);
  }
  return (ticks * 1000) / CLK_TCK;
}

/** Resident set size of one process, in MiB (`VmRSS`); NaN when it is gone. */
export function rssMiB(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The server's `action` counter by `action_type`, for the `default` namespace as the frontend counts it. */
export async function scrapeActions(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('action{')) continue;
    const close = line.lastIndexOf('}');
    const labels: Record<string, string> = {};
    for (const m of line.slice(7, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    if (labels.namespace !== undefined && labels.namespace !== 'default') continue;
    if (labels.service_name !== undefined && labels.service_name !== 'frontend') continue;
    const type = labels.action_type ?? 'unknown';
    counts[type] = (counts[type] ?? 0) + Number(line.slice(close + 1).trim());
  }
  return counts;
}

/** `after − before`, per key, leaving out zeros. */
export function diffCounts(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[key] ?? 0) - (before[key] ?? 0);
    if (d) out[key] = d;
  }
  return out;
}

export const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** A history's events and actions, by kind. */
export interface HistoryCount {
  events: number;
  /** WorkflowExecutionStarted. */
  starts: number;
  /** ActivityTaskScheduled. */
  activities: number;
  /** attempt − 1 of each ActivityTaskStarted (the server writes the last attempt's). */
  activityRetries: number;
  timers: number;
  /** UpsertWorkflowSearchAttributes, but the TemporalChangeVersion-only ones (Cloud exempts them). */
  upserts: number;
  /** UpsertWorkflowSearchAttributes of TemporalChangeVersion alone (the SDK's with each patch): the metric counts them. */
  versionUpserts: number;
  signals: number;
  updates: number;
  /** MarkerRecorded events, all names. */
  markers: number;
  /** Of which version (patch) markers. */
  versionMarkers: number;
  /** Workflow tasks that recorded any marker: what the server's `command_BatchMarkers` counts. */
  markerBatches: number;
  /** Workflow tasks that recorded a side-effect or local-activity marker: what Cloud's published list bills. */
  billableMarkerBatches: number;
  /** WorkflowPropertiesModified (memo upserts): the server's metric counts them, Cloud's list does not name them. */
  memoUpserts: number;
  children: number;
  /** Cloud's published rules. */
  billableActions: number;
  /** What the server's `action` metric would count from this history (heartbeats and queries are not in it). */
  serverActions: number;
}

const VERSION_MARKERS = ['core_patch', 'Version', 'version', 'deprecate_patch'];

/** Counts `events` (a whole history or a slice of one) by Cloud's published rules and by the server's metric. */
export function countEvents(events: HistoryEvent[]): HistoryCount {
  const c: HistoryCount = {
    events: events.length,
    starts: 0,
    activities: 0,
    activityRetries: 0,
    timers: 0,
    upserts: 0,
    versionUpserts: 0,
    signals: 0,
    updates: 0,
    markers: 0,
    versionMarkers: 0,
    markerBatches: 0,
    billableMarkerBatches: 0,
    memoUpserts: 0,
    children: 0,
    billableActions: 0,
    serverActions: 0,
  };
  const batches = new Set<string>();
  const billableBatches = new Set<string>();
  for (const e of events) {
    switch (e.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        c.starts++;
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        c.activities++;
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        c.activityRetries += Math.max(0, (e.activityTaskStartedEventAttributes?.attempt ?? 1) - 1);
        break;
      case EventType.EVENT_TYPE_TIMER_STARTED:
        c.timers++;
        break;
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = Object.keys(
          e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
        );
        if (fields.length && fields.every((f) => f === 'TemporalChangeVersion')) c.versionUpserts++;
        else c.upserts++;
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        c.signals++;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        c.updates++;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
        c.memoUpserts++;
        break;
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        c.children++;
        break;
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const attrs = e.markerRecordedEventAttributes;
        const task = String(attrs?.workflowTaskCompletedEventId ?? e.eventId);
        c.markers++;
        batches.add(task);
        if (VERSION_MARKERS.includes(attrs?.markerName ?? '')) c.versionMarkers++;
        else billableBatches.add(task);
        break;
      }
    }
  }
  c.markerBatches = batches.size;
  c.billableMarkerBatches = billableBatches.size;
  const common = c.starts + c.activities + c.activityRetries + c.timers + c.upserts + c.signals + c.updates;
  c.billableActions = common + c.billableMarkerBatches + 2 * c.children;
  c.serverActions = common + c.versionUpserts + c.markerBatches + c.memoUpserts + 2 * c.children;
  return c;
}

export const countHistory = (history: History): HistoryCount => countEvents(history.events ?? []);

/** The mean of each field over `counts`. */
export function meanCounts(counts: HistoryCount[]): HistoryCount {
  const keys = Object.keys(counts[0] ?? {}) as Array<keyof HistoryCount>;
  return Object.fromEntries(
    keys.map((k) => [k, counts.reduce((n, c) => n + c[k], 0) / Math.max(1, counts.length)]),
  ) as unknown as HistoryCount;
}

/** The sum of each field over `counts`. */
export function addCounts(counts: HistoryCount[]): HistoryCount {
  return scaleCounts(meanCounts(counts), counts.length);
}

/** Each field times `factor`. */
export function scaleCounts(counts: HistoryCount, factor: number): HistoryCount {
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v * factor])) as unknown as HistoryCount;
}

export function isTimerStarted(e: HistoryEvent): boolean {
  return e.eventType === EventType.EVENT_TYPE_TIMER_STARTED;
}

/** The value at percentile `p` (0–100) of ascending `sorted`, nearest rank. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
