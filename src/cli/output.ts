/** What the CLI's commands share: where lines go, bad input, order ids, and table padding. */
import { OrderIdSchema } from '../domain';

/** Bad input: printed as one line, exit code 2. */
export class UsageError extends Error {}

/** Where the CLI writes: standard output and standard error, one line at a time. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** `text` padded to `width` columns. */
export const pad = (text: string, width: number) => text.padEnd(width);

/** The order id argument, or a {@link UsageError} saying what is wrong with it. */
export function orderIdArg(value: string): string {
  const parsed = OrderIdSchema.safeParse(value);
  if (!parsed.success) throw new UsageError(`orderId ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

const FLAGS: Record<string, string> = {
  where: '--where',
  orderIds: '--orders',
  pageToken: '--page-token',
  pageSize: '--page-size',
  id: '--id',
  concurrency: '--concurrency',
};

/** The CLI flag an issue path of the client came from (`orderIds.3` is `--orders`), or the path itself. */
export function flagOf(path: string): string {
  return FLAGS[path.split('.')[0]!] ?? path;
}
