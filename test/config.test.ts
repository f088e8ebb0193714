import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiConfig, cliApiConfig, ConfigError, temporalConfig, telemetryConfig, workerConfig } from '../src/config';

const dir = mkdtempSync(join(tmpdir(), 'refund-saga-config-'));
const configFile = join(dir, 'temporal.toml');
writeFileSync(
  configFile,
  [
    '[profile.default]',
    'address = "10.0.0.1:7233"',
    '',
    '[profile.prod]',
    'address = "10.0.0.2:7233"',
    'namespace = "refunds-prod"',
    '',
  ].join('\n'),
);
const noFile = { TEMPORAL_CONFIG_FILE: join(dir, 'missing.toml') };

describe('temporalConfig: one seam for every process’s Temporal connection', () => {
  it('falls back to the local dev server, namespace default and task queue refunds, and says it is not configured', () => {
    expect(temporalConfig({}, noFile)).toMatchObject({
      connectionOptions: { address: '127.0.0.1:7233' },
      namespace: 'default',
      taskQueue: 'refunds',
      configured: false,
    });
  });

  it('takes a profile alone (no TEMPORAL_ADDRESS): its address and namespace, configured', () => {
    expect(temporalConfig({}, { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'prod' })).toMatchObject({
      connectionOptions: { address: '10.0.0.2:7233' },
      namespace: 'refunds-prod',
      configured: true,
    });
    // The file's default profile counts as well: `npm start` then uses that cluster instead of a dev server.
    expect(temporalConfig({}, { TEMPORAL_CONFIG_FILE: configFile }).configured).toBe(true);
  });

  it('lets the environment override the profile, and flags override both', () => {
    const env = { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'from-env' };
    expect(temporalConfig({}, env).namespace).toBe('from-env');
    expect(temporalConfig({ namespace: 'from-flag', address: '10.0.0.9:7233' }, env)).toMatchObject({
      connectionOptions: { address: '10.0.0.9:7233' },
      namespace: 'from-flag',
    });
    expect(temporalConfig({ profile: 'default', configFile }, noFile).connectionOptions.address).toBe('10.0.0.1:7233');
  });

  it('fails naming a profile that is not in the file', () => {
    expect(() => temporalConfig({ profile: 'staging', configFile }, {})).toThrow(ConfigError);
    expect(() => temporalConfig({ profile: 'staging', configFile }, {})).toThrow(/profile "staging"/);
  });

  it('reads the task queue from TEMPORAL_TASK_QUEUE', () => {
    expect(temporalConfig({}, { ...noFile, TEMPORAL_TASK_QUEUE: 'refunds-eu' }).taskQueue).toBe('refunds-eu');
  });
});

describe('workerConfig', () => {
  const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };

  it('binds metrics to loopback unless told, and versions the worker with the package version', () => {
    expect(workerConfig({})).toMatchObject({
      metrics: { host: '127.0.0.1', port: 9464 },
      versioning: { deploymentName: 'refund-saga', buildId: version },
    });
    expect(workerConfig({ METRICS_HOST: '0.0.0.0', METRICS_PORT: '0' }).metrics).toBeUndefined();
    expect(workerConfig({ METRICS_HOST: '0.0.0.0' }).metrics?.host).toBe('0.0.0.0');
  });

  it('takes WORKER_BUILD_ID and WORKER_VERSIONING=off, and names a bad one', () => {
    expect(workerConfig({ WORKER_BUILD_ID: '2026.11.23-abc' }).versioning?.buildId).toBe('2026.11.23-abc');
    expect(workerConfig({ WORKER_VERSIONING: 'off' }).versioning).toBeUndefined();
    expect(() => workerConfig({ WORKER_BUILD_ID: 'has space' })).toThrow(/WORKER_BUILD_ID/);
    expect(() => workerConfig({ WORKER_VERSIONING: 'yes' })).toThrow(/WORKER_VERSIONING/);
  });

  it('hands a saga to another worker 3 s after its cached worker stops answering, unless told', () => {
    expect(workerConfig({}).stickyQueueTimeoutMs).toBe(3000);
    expect(workerConfig({ WORKER_STICKY_QUEUE_TIMEOUT_MS: '10000' }).stickyQueueTimeoutMs).toBe(10_000);
    expect(() => workerConfig({ WORKER_STICKY_QUEUE_TIMEOUT_MS: '0' })).toThrow(/WORKER_STICKY_QUEUE_TIMEOUT_MS/);
  });
});

describe('telemetryConfig', () => {
  it('is off without an endpoint, and names a malformed one', () => {
    expect(telemetryConfig({})).toBeUndefined();
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/' })).toEqual({
      endpoint: 'http://127.0.0.1:4318',
      serviceName: undefined,
    });
    expect(() => telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });
});

describe('apiConfig and cliApiConfig: the security settings', () => {
  it('reads rotating webhook secrets, codec origins and one-token credentials, naming a bad variable', () => {
    const parsed = apiConfig({
      CIRCLE_WEBHOOK_SECRET: 'whsec_newnewnewnewnew, whsec_oldoldoldoldold',
      CODEC_CORS_ORIGINS: 'http://localhost:8233,https://temporal.example.com',
      API_TOKEN: 'a-token-of-16-chars-or-more',
    });
    expect(parsed.webhookSecret).toEqual(['whsec_newnewnewnewnew', 'whsec_oldoldoldoldold']);
    expect(parsed.codecCorsOrigins).toEqual(['http://localhost:8233', 'https://temporal.example.com']);
    expect(parsed.token).toEqual({
      token: 'a-token-of-16-chars-or-more',
      identity: 'order-service',
      role: 'order-service',
    });
    expect(() => apiConfig({ CIRCLE_WEBHOOK_SECRET: 'long-enough-secret-1,short' })).toThrow(
      /CIRCLE_WEBHOOK_SECRET.*each secret must be at least 16 characters/,
    );
    expect(() => apiConfig({ API_JWKS_FILE: '/etc/jwks.json' })).toThrow(/API_JWKS_FILE needs API_JWT_ISSUER/);
    expect(() => apiConfig({ API_TOKEN_ROLE: 'admin' })).toThrow(/API_TOKEN_ROLE/);
  });

  it('sends the CLI through the API only with both its URL and a token', () => {
    expect(cliApiConfig({})).toBeUndefined();
    expect(cliApiConfig({ REFUND_SAGA_API_URL: 'http://127.0.0.1:3000/', REFUND_SAGA_TOKEN: 't' })).toEqual({
      url: 'http://127.0.0.1:3000',
      token: 't',
    });
    expect(() => cliApiConfig({ REFUND_SAGA_API_URL: 'http://127.0.0.1:3000' })).toThrow(ConfigError);
    expect(() => cliApiConfig({ REFUND_SAGA_API_URL: 'not a url', REFUND_SAGA_TOKEN: 't' })).toThrow(
      /REFUND_SAGA_API_URL/,
    );
  });
});
