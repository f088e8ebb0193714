/**
 * `npm run bench -- --profile`: where the worker's CPU goes, per workflow, in each burst phase. The bench worker runs
 * with `--cpu-prof` (one profile per thread: the main thread runs activities and the SDK's core; the workflow thread
 * runs the workflows); each profile is cut to the phases' windows and its samples are sorted into categories by the
 * source of the frame that was running (bundle frames through the bundle's inline source map).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SourceMapConsumer, type RawSourceMap } from 'source-map';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame; children?: number[] }>;
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A phase to cut the profiles to: its window on the monotonic clock and how many workflows completed in it. */
export interface ProfileWindow {
  label: string;
  fromUs: number;
  toUs: number;
  workflows: number;
}

/** CPU ms per workflow of one thread in one window, by category. */
export interface ThreadProfile {
  thread: 'main' | 'workflow';
  busyMsPerWorkflow: number;
  byCategoryMsPerWorkflow: Record<string, number>;
}

/**
 * The category of a frame's code. The SDK's promise hook is checked on the whole stack first: for every promise a
 * workflow creates it captures and formats a stack trace (for the UI's "Stack Trace" tab), whichever code created it.
 */
function categorize(source: string, fn: string): string {
  if (fn === '(garbage collector)') return 'garbage collection';
  if (/interceptors-opentelemetry|@opentelemetry/.test(source)) return 'OpenTelemetry interceptors';
  if (/node_modules\/zod\//.test(source)) return 'zod';
  if (/webpack\/(runtime|bootstrap)/.test(source)) return 'bundle module loading';
  if (/@temporalio\/(workflow|common)\//.test(source)) return 'Temporal workflow SDK';
  if (/src\/(workflows|domain)\//.test(source)) return 'saga code';
  if (/scripts\/bench\//.test(source)) return 'baseline code';
  if (/src\/(activities|providers)\//.test(source)) return 'activities and provider clients';
  if (/stripe|circle-sdk|axios/.test(source)) return 'provider SDKs (stripe, circle, axios)';
  if (/undici|_http|node:net|stream/.test(source)) return 'HTTP';
  if (/@temporalio\/core-bridge|@temporalio\/worker|@temporalio\/proto|protobufjs/.test(source))
    return 'Temporal worker SDK';
  if (fn === 'runInContext' || source === '') return 'V8 (natives, vm)';
  return 'other';
}

const PROMISE_HOOK = /@temporalio\/worker\/lib\/workflow\/vm-shared\.js$/;

async function bundleSourceMap(bundlePath: string): Promise<SourceMapConsumer | undefined> {
  const code = readFileSync(bundlePath, 'utf8');
  const match = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,(\S+)\s*$/.exec(code);
  if (!match) return undefined;
  const raw = JSON.parse(Buffer.from(match[1]!, 'base64').toString('utf8')) as RawSourceMap;
  return new SourceMapConsumer(raw);
}

/** Sorts one profile's samples in `window` into categories. */
function summarize(
  profile: CpuProfile,
  window: ProfileWindow,
  sourceOf: (frame: CallFrame) => string,
): Omit<ThreadProfile, 'thread'> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const category = new Map<number, string>();
  const categoryOf = (id: number): string => {
    const known = category.get(id);
    if (known) return known;
    let result: string | undefined;
    for (let up: number | undefined = id; up !== undefined && !result; up = parent.get(up)) {
      const frame = byId.get(up)!.callFrame;
      if (frame.functionName === 'init' && PROMISE_HOOK.test(frame.url)) result = 'SDK stack trace per promise';
    }
    const frame = byId.get(id)!.callFrame;
    result ??= categorize(sourceOf(frame), frame.functionName);
    category.set(id, result);
    return result;
  };
  const totals: Record<string, number> = {};
  let busy = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < window.fromUs || t > window.toUs) continue;
    const node = byId.get(profile.samples[i]!)!;
    if (node.callFrame.functionName === '(idle)') continue;
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    busy += dt;
    const c = categoryOf(node.id);
    totals[c] = (totals[c] ?? 0) + dt;
  }
  const per = (ms: number) => Math.round((ms / Math.max(1, window.workflows)) * 100) / 100;
  return {
    busyMsPerWorkflow: per(busy),
    byCategoryMsPerWorkflow: Object.fromEntries(
      Object.entries(totals)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, per(v)]),
    ),
  };
}

/**
 * The worker's profiles in `dir` (Node names them `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`; thread 0 is
 * the main thread), cut to each window that falls inside one of them.
 */
export async function profileWindows(
  dir: string,
  bundlePath: string,
  windows: ProfileWindow[],
): Promise<Record<string, ThreadProfile[]>> {
  const map = await bundleSourceMap(bundlePath);
  const sourceOf = (frame: CallFrame) => {
    if (map && frame.url.endsWith(bundlePath.split('/').pop()!)) {
      const pos = map.originalPositionFor({ line: frame.lineNumber + 1, column: frame.columnNumber });
      return pos.source ?? '';
    }
    return frame.url;
  };
  const out: Record<string, ThreadProfile[]> = {};
  try {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
      const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
      const end = profile.startTime + profile.timeDeltas.reduce((a, b) => a + b, 0);
      const thread = /\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1] === '0' ? 'main' : 'workflow';
      for (const w of windows) {
        if (w.fromUs < profile.startTime || w.toUs > end) continue;
        (out[w.label] ??= []).push({ thread, ...summarize(profile, w, sourceOf) });
      }
    }
  } finally {
    map?.destroy();
  }
  return out;
}
