/**
 * The one kind of body the API reads: JSON, in UTF-8, as sent. Another media type, charset or `Content-Encoding` is
 * refused with 415; bytes that are not UTF-8, and text that is not JSON, with 400. Nothing else reaches a route. A route
 * that checks a signature over the bytes as sent asks for them with `config: { keepRawBody: true }`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Keep the body's bytes as sent on `request.rawBody`, for a signature over them. @default false */
    keepRawBody?: boolean;
  }
  interface FastifyRequest {
    /** The body's bytes as sent, on a route whose config has `keepRawBody`; otherwise undefined. */
    rawBody?: Buffer;
  }
}

/** `fatal`: a stray byte or an overlong sequence is refused; a lenient decoder would turn it into U+FFFD and go on. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Each `charset` parameter of a Content-Type, with or without quotes. */
const CHARSET_PARAMETER = /;\s*charset\s*=\s*"?([^";\s]*)"?/gi;

/** An error the error handler answers with its status and message. */
const refusal = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode });

/** True when `text` is JSON to a plain parser: the secure one then refused it for a poisoning key. */
const isJson = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** Why the body's headers say it is not what the JSON parser reads: compressed, or text in another charset. */
function unreadableEncoding(request: FastifyRequest): Error | undefined {
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return refusal(415, `Content-Encoding ${encoding} is not supported: send the body uncompressed`);
  }
  for (const [, charset = ''] of (request.headers['content-type'] ?? '').matchAll(CHARSET_PARAMETER)) {
    if (charset.toLowerCase() !== 'utf-8') return refusal(415, `charset ${charset} is not supported: send UTF-8`);
  }
  return undefined;
}

/** Replaces Fastify's parsers (JSON read as UTF-8 whatever its charset, and text/plain) with the API's one. */
export function readJsonBodiesOnly(app: FastifyInstance): void {
  // Fastify's own JSON parser, for its refusal of `__proto__` and `constructor.prototype` keys.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  // Declared, so every request has the same shape; set only where a route asks, so no other request keeps its bytes.
  app.decorateRequest('rawBody', undefined);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const unreadable = unreadableEncoding(request);
    if (unreadable) return done(unreadable);
    if (request.routeOptions.config.keepRawBody) request.rawBody = body as Buffer;
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      return done(refusal(400, 'the body is not valid UTF-8'));
    }
    return parseJson(request, text, (error, parsed) => {
      // Fastify calls a `__proto__` key "not valid JSON" too: tell the caller which it is.
      if (error && isJson(text)) return done(refusal(400, 'the body must not hold __proto__ or constructor.prototype'));
      return done(error, parsed);
    });
  });
}
