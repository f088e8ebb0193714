/**
 * The HTTP API process (`refund-saga api`, `npm run api`) against the cluster `temporalConfig` points at. Needs
 * credentials: API_CREDENTIALS_FILE, API_JWKS_FILE or API_TOKEN.
 */
import { Client, Connection } from '@temporalio/client';
import { apiConfig, ConfigError, logConfig, temporalConfig, type TemporalFlags } from '../config';
import { authenticatorFrom } from './auth';
import { createLogger } from '../logging';
import type { Tracing } from '../telemetry';
import { buildApi } from './server';
import { requirePayloadEncryption } from '../security/keys';
import { apiClientInterceptors, overrideVouchKeys } from '../security/vouch';

export async function runApi(flags: TemporalFlags = {}, tracing?: Tracing): Promise<void> {
  const settings = apiConfig();
  let authenticator;
  try {
    authenticator = authenticatorFrom(settings);
  } catch (err) {
    throw new ConfigError(`invalid API credentials: ${(err as Error).message}`);
  }
  if (!authenticator)
    throw new ConfigError(
      'the API needs credentials: set API_CREDENTIALS_FILE (hashed tokens with identities and roles), API_JWKS_FILE ' +
        '(with API_JWT_ISSUER and API_JWT_AUDIENCE) or API_TOKEN (one caller); see the README, "Security"',
    );
  const encryption = requirePayloadEncryption('the API');
  const vouchKeys = overrideVouchKeys();
  const logger = createLogger('api', logConfig());
  if ('off' in encryption) logger.warn('PAYLOAD_ENCRYPTION=off: payloads go to Temporal in plaintext');
  const temporal = temporalConfig(flags);
  const client = new Client({
    connection: await Connection.connect(temporal.connectionOptions),
    namespace: temporal.namespace,
    // With OVERRIDE_VOUCH_KEYS the API vouches for its callers' overrides to workers that require it.
    interceptors: apiClientInterceptors(vouchKeys, temporal.namespace, tracing?.clientInterceptors),
    dataConverter: encryption.dataConverter,
  });
  const codec = encryption.dataConverter?.payloadCodecs?.[0];
  const api = buildApi({
    client,
    authenticator,
    rateLimitPerMinute: settings.rateLimitPerMinute,
    sessionSecret: settings.sessionSecret,
    ...(codec && { codec: { codec, corsOrigins: settings.codecCorsOrigins } }),
    webhookSecret: settings.webhookSecret,
    bodyLimit: settings.bodyLimit,
    taskQueue: temporal.taskQueue,
    temporalUiUrl: settings.temporalUiUrl,
    logger,
  });
  const url = await api.listen({ port: settings.port, host: settings.host });
  logger.info({ url }, `refund API on ${url} (OpenAPI at ${url}/openapi.json, docs at ${url}/docs)`);
  const stop = () =>
    void api
      .close()
      .then(() => tracing?.shutdown())
      .then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
