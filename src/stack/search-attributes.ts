/** Registers the saga's custom search attributes on a cluster through the operator service; idempotent. */
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { REFUND_SEARCH_ATTRIBUTES } from '../domain';

const GRPC_UNIMPLEMENTED = 12;

const INDEXED_TYPE = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  BOOL: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
} as const;

/** Adds whichever of the saga's search attributes (`REFUND_SEARCH_ATTRIBUTES`) are missing. */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  let existing: Record<string, unknown> = {};
  try {
    existing = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes;
  } catch (err) {
    // The Java time-skipping test server can add search attributes but not list them; it starts with none.
    if ((err as { code?: number }).code !== GRPC_UNIMPLEMENTED) throw err;
  }
  const missing = REFUND_SEARCH_ATTRIBUTES.filter((key) => !(key.name in existing));
  if (!missing.length) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, INDEXED_TYPE[key.type]])),
  });
  return missing.map((key) => key.name);
}
