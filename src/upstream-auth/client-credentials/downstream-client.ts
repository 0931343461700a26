import { request, type Dispatcher } from 'undici';
import { isInvalidTokenChallenge } from './bearer-error.js';
import type { ServiceTokenSource } from './service-token.js';

export interface DownstreamRequest {
  readonly method?: Dispatcher.HttpMethod;
  readonly headers?: Record<string, string>;
  /** Replayable bodies only (string or Buffer): the 401 rule may send it twice. */
  readonly body?: string | Buffer;
  readonly timeoutMs?: number;
}

export interface DownstreamResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** A caller's own Authorization, in any letter case, never goes out beside the service token. */
function withoutAuthorization(headers: Record<string, string> | undefined): Record<string, string> {
  if (!headers) return {};
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
}

/** Bodies a service call reads at most: a downstream answer is not a file transfer. */
const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/**
 * HTTP calls from a NestJS service to its own downstream services, with the
 * named client's service token attached. A 401 whose challenge says
 * `invalid_token` drops that token, gets a new one and retries once.
 *
 * @example
 * const res = await downstream.request('orders', 'https://orders.internal/v1/orders/42');
 * if (res.statusCode === 200) return JSON.parse(res.body.toString());
 */
export class DownstreamClient {
  constructor(
    private readonly tokens: ServiceTokenSource,
    private readonly dispatcher?: Dispatcher,
  ) {}

  async request(client: string, url: string, options: DownstreamRequest = {}): Promise<DownstreamResponse> {
    const first = await this.send(client, url, options);
    if (first.response.statusCode !== 401 || !isInvalidTokenChallenge(first.response.headers['www-authenticate'])) {
      return first.response;
    }
    if (!this.tokens.invalidate(client, first.token)) return first.response;
    return (await this.send(client, url, options)).response;
  }

  private async send(client: string, url: string, options: DownstreamRequest): Promise<{ token: string; response: DownstreamResponse }> {
    const token = await this.tokens.getToken(client);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const { statusCode, headers, body } = await request(url, {
      method: options.method ?? 'GET',
      headers: { ...withoutAuthorization(options.headers), authorization: `Bearer ${token}` },
      body: options.body,
      dispatcher: this.dispatcher,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > MAX_RESPONSE_BYTES) throw new Error(`downstream answer from ${new URL(url).origin} exceeds ${MAX_RESPONSE_BYTES} bytes`);
      chunks.push(chunk as Buffer);
    }
    return { token, response: { statusCode, headers, body: Buffer.concat(chunks) } };
  }
}
