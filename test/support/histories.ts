/**
 * Recorded workflow histories for replay tests. They are append-only: sagas wait for days, so a history recorded by
 * an earlier version stands for sagas in flight, and must replay unchanged. `SHA256SUMS` beside them lists every
 * committed history with its hash; the replay test fails when one changes or disappears.
 *
 * `RECORD_HISTORIES=1 npx vitest run test/workflows` records the scenarios whose history file does not exist yet and
 * adds them to `SHA256SUMS`; it never overwrites a recorded history.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = join(__dirname, '..', 'fixtures', 'histories');
export const MANIFEST = join(HISTORIES_DIR, 'SHA256SUMS');

export const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
export const sha256File = (path: string) => sha256(readFileSync(path));

/** The project's root: the git checkout's top level when the project is one. */
export const PROJECT_ROOT = join(__dirname, '..', '..');

/** Saves the handle's history as `<name>.json` when recording is on and no such history exists yet. */
export async function recordHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const file = `${name}.json`;
  const path = join(HISTORIES_DIR, file);
  if (existsSync(path)) return;
  mkdirSync(HISTORIES_DIR, { recursive: true });
  writeFileSync(path, historyToJSON(await handle.fetchHistory()));
  appendFileSync(MANIFEST, `${sha256File(path)}  ${file}\n`);
}

/** The manifest's entries: file name → SHA-256. */
export function manifest(): Map<string, string> {
  const lines = readFileSync(MANIFEST, 'utf8').split('\n').filter(Boolean);
  return new Map(
    lines.map((line) => {
      const [hash, file] = line.split(/\s+/) as [string, string];
      return [file, hash];
    }),
  );
}

/** The recorded histories, by file name, with the workflow id they ran under (`refund-<orderId>` of their input). */
export function recordedHistories(): Array<{ name: string; workflowId: string; json: unknown }> {
  return readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const json = JSON.parse(readFileSync(join(HISTORIES_DIR, f), 'utf8')) as HistoryJson;
      return { name: f.replace(/\.json$/, ''), workflowId: workflowIdOf(json), json };
    });
}

interface HistoryJson {
  events: Array<{ workflowExecutionStartedEventAttributes?: { input?: { payloads?: Array<{ data?: string }> } } }>;
}

function workflowIdOf(history: HistoryJson): string {
  const data = history.events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  const input = JSON.parse(Buffer.from(data ?? '', 'base64').toString('utf8')) as { request: { orderId: string } };
  return `refund-${input.request.orderId}`;
}

/**
 * Why the histories cannot be checked against git here (`undefined` when they can): the project is not a git checkout
 * (installed from a tarball, `.git` absent) or `git` is not installed. Only the project's own `.git` counts, so a
 * tarball unpacked inside some other repository is not mistaken for a checkout.
 */
export function gitUnavailable(root = PROJECT_ROOT): string | undefined {
  if (!existsSync(join(root, '.git'))) {
    return `${root} has no .git (installed from a tarball?): there is no committed history to check the recorded histories against`;
  }
  const probe = spawnSync('git', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    return `git cannot be run (${probe.error?.message ?? probe.stderr.trim()}): the recorded histories cannot be checked against their commits`;
  }
  return undefined;
}

function git(root: string, args: string[]): Buffer {
  return execFileSync('git', ['-C', root, ...args], {
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** What git says was ever committed under the histories directory, and what the working tree holds now. */
export interface CommittedHistories {
  /** Every line of every committed version of `SHA256SUMS`, with the commits that hold it. */
  manifestLines: Map<string, string[]>;
  /**
   * Every version of every history file committed since `SHA256SUMS` was: its name in the histories directory, the
   * commit and its SHA-256.
   */
  files: Array<{ file: string; commit: string; hash: string }>;
}

/**
 * Reads, from the git history of `root`, every committed version of `SHA256SUMS` (each commit that changed it) and of
 * every history file since the manifest was added (each file in the tree of each commit that changed the directory),
 * so a commit that edits a history together with its line in `SHA256SUMS` is still caught.
 */
export function committedHistories(root = PROJECT_ROOT, dir = HISTORIES_DIR): CommittedHistories {
  const path = relative(root, dir).split('\\').join('/');
  const commits = (of: string, ...range: string[]) =>
    git(root, ['log', '--format=%H', ...range, '--', of])
      .toString('utf8')
      .split('\n')
      .filter(Boolean);

  const manifestCommits = commits(`${path}/SHA256SUMS`);
  const manifestLines = new Map<string, string[]>();
  for (const commit of manifestCommits) {
    const shown = spawnSync('git', ['-C', root, 'show', `${commit}:${path}/SHA256SUMS`], { encoding: 'utf8' });
    // The commit that deleted the manifest holds no version of it; every other one does.
    if (shown.status !== 0) continue;
    for (const line of shown.stdout.split('\n').filter(Boolean)) {
      manifestLines.set(line, [...(manifestLines.get(line) ?? []), commit]);
    }
  }

  // The rule holds since the manifest exists: histories were re-recorded freely before it (no saga ran outside the
  // repository yet), so the versions checked are those of the commit that added it and of every commit after.
  const since = manifestCommits[manifestCommits.length - 1];
  const files: CommittedHistories['files'] = [];
  const seen = new Set<string>();
  for (const commit of since ? commits(path, 'HEAD', '--not', `${since}^@`) : []) {
    const tree = git(root, ['ls-tree', '-r', '-z', commit, '--', `${path}/`]).toString('utf8');
    for (const entry of tree.split('\0').filter(Boolean)) {
      // `<mode> blob <object>\t<path>`
      const [meta, name] = entry.split('\t') as [string, string];
      const object = meta.split(' ')[2]!;
      if (!name.endsWith('.json') || seen.has(`${object} ${name}`)) continue;
      seen.add(`${object} ${name}`);
      const hash = sha256(git(root, ['cat-file', 'blob', object]));
      files.push({ file: name.slice(path.length + 1), commit, hash });
    }
  }
  return { manifestLines, files };
}
