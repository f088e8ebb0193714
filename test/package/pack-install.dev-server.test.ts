/**
 * The package as an order service gets it: `npm pack` (which builds dist/ and the workflow bundle), installed from the
 * tarball into an empty project, then used only through its documented entry points, with plain Node and tsc.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';

const root = join(__dirname, '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let project: string;

/** Runs npm, and on failure says what it printed (a failed build, an install that could not resolve). */
function runNpm(args: string[], cwd: string): void {
  const run = spawnSync(npm, args, { cwd, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`npm ${args.join(' ')} failed:\n${run.stdout}\n${run.stderr}`);
}

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'refund-saga-consumer-'));
  runNpm(['pack', '--pack-destination', project, '--silent'], root);
  const tarball = readdirSync(project).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('npm pack wrote no tarball');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  runNpm(['install', `./${tarball}`, '--prefer-offline', '--no-audit', '--no-fund', '--silent'], project);
  cpSync(join(__dirname, 'consumer'), project, { recursive: true });
}, 300_000);

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('the packed package, installed in an empty project', () => {
  function runSaga(env: NodeJS.ProcessEnv = {}) {
    const run = spawnSync(process.execPath, ['run-saga.js'], {
      cwd: project,
      env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    return JSON.parse(run.stdout.trim().split('\n').pop()!) as {
      result: { outcome: string; payment: { outcome: string }; carbon: { outcome: string } };
      workflowCode: string;
    };
  }
  const dist = () => join(project, 'node_modules', 'refund-saga', 'dist');

  it('starts a saga through the documented import and completes it with a worker on the prebuilt bundle', () => {
    const { result, workflowCode } = runSaga();
    expect(result).toMatchObject({
      outcome: 'completed',
      payment: { outcome: 'reversed' },
      carbon: { outcome: 'reversed' },
    });
    expect(workflowCode).toBe(join(dist(), 'workflow-bundle.js'));
  });

  it('traces a saga on the prebuilt bundle: the workflow’s own spans reach the collector', async () => {
    const names: string[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        for (const match of body.matchAll(/"name":"((?:Run|Start)(?:Workflow|Activity):[^"]+)"/g))
          names.push(match[1]!);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
      // spawnSync would block this process's collector: run the consumer asynchronously.
      const { result, workflowCode } = await new Promise<ReturnType<typeof runSaga>>((resolve, reject) => {
        const child = spawn(process.execPath, ['run-saga.js'], {
          cwd: project,
          env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
        });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.on('exit', (code) =>
          code === 0
            ? resolve(JSON.parse(out.trim().split('\n').pop()!) as ReturnType<typeof runSaga>)
            : reject(new Error(out)),
        );
      });
      expect(result.outcome).toBe('completed');
      expect(workflowCode).toBe(join(dist(), 'workflow-bundle.js'));
      expect(names).toEqual(
        expect.arrayContaining([
          'RunWorkflow:refundSaga',
          'StartActivity:cancelCirclePayment',
          'RunActivity:cancelCirclePayment',
        ]),
      );
    } finally {
      collector.close();
    }
  });

  it('type-checks a consumer of every entry point against the shipped declarations', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'node16',
          moduleResolution: 'node16',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], {
      encoding: 'utf8',
    });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  });

  it('runs the refund-saga binary as compiled JavaScript, without tsx', () => {
    const help = spawnSync(join(project, 'node_modules', '.bin', 'refund-saga'), ['--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/start .*\n[\s\S]*status [\s\S]*list [\s\S]*override /);
    expect(() => require.resolve('tsx', { paths: [project] })).toThrow();
  });
});
