/** What the CLI's commands share: where lines go, bad input, and table padding. */

/** Bad input: printed as one line, exit code 2. */
export class UsageError extends Error {}

/** Where the CLI writes: standard output and standard error, one line at a time. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** `text` padded to `width` columns. */
export const pad = (text: string, width: number) => text.padEnd(width);

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
