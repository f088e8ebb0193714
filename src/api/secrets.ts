/** The credential of an `Authorization: Bearer <credential>` header, as every authenticated route reads it. */
export function bearerToken(header: string | undefined): string | undefined {
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
}
