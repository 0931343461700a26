import { request } from 'undici';
import { errorLabel } from '../../errors/error-label.js';

export interface FetchJsonOptions {
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

/** Why a fetch of issuer metadata failed; never includes the response body. */
export class FetchJsonError extends Error {
  override readonly name = 'FetchJsonError';
}

/**
 * GET a JSON document with a whole-request deadline and a size bound. Redirects
 * are not followed (a key source must not move somewhere we did not configure).
 */
export async function fetchJson(url: string, options: FetchJsonOptions): Promise<unknown> {
  const shown = withoutQuery(url);
  const signal = AbortSignal.timeout(options.timeoutMs);
  let response;
  try {
    response = await request(url, {
      method: 'GET',
      headers: { accept: 'application/json' },
      signal,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  } catch (error) {
    throw new FetchJsonError(`GET ${shown} failed: ${errorLabel(error)}`, { cause: error });
  }
  const { statusCode, body } = response;
  if (statusCode !== 200) {
    // Drain (bounded) rather than destroy: a destroyed undici body emits an unhandled 'error'.
    await body.dump({ limit: options.maxBytes }).catch(() => undefined);
    throw new FetchJsonError(`GET ${shown} answered HTTP ${statusCode}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      // Leaving the loop early makes the async iterator destroy the body, with its error handled.
      if (size > options.maxBytes) {
        throw new FetchJsonError(`GET ${shown}: response larger than ${options.maxBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof FetchJsonError) throw error;
    throw new FetchJsonError(`GET ${shown}: reading the response failed: ${errorLabel(error)}`, { cause: error });
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new FetchJsonError(`GET ${shown}: response is not JSON`);
  }
}

/** A key URL may carry an API key in its query: messages show origin and path only. */
export function withoutQuery(url: string): string {
  const cut = url.search(/[?#]/);
  return cut < 0 ? url : url.slice(0, cut);
}
