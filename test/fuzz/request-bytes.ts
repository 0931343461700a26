// Requests as bytes on the wire, written exactly as a spec says: repeated, odd or broken lines
// included. Every request carries its case's marker twice, as X-Request-Id and as an `fzm`
// query parameter, so an upstream record can be traced to its case even when one of the two
// is mutated or dropped.

export interface RequestSpec {
  readonly method: string;
  /** Without the marker (added here). */
  readonly target: string;
  /** Written in order, values as latin1 (one byte per char), repeats allowed. */
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: Buffer;
  /** false: no X-Request-Id line (the caller sends its own, or none). */
  readonly requestId?: boolean;
  /** null: no Host line; default: the gateway's host. */
  readonly host?: string | null;
  readonly version?: string;
  readonly lineEnd?: string;
}

function withMarker(target: string, marker: string): string {
  if (!target.startsWith('/')) return target;
  const hash = target.indexOf('#');
  const [base, fragment] = hash === -1 ? [target, ''] : [target.slice(0, hash), target.slice(hash)];
  return `${base}${base.includes('?') ? '&' : '?'}fzm=${marker}${fragment}`;
}

/** The request's bytes; `last` adds `Connection: close` unless the spec sets Connection itself. */
export function encodeRequest(spec: RequestSpec, marker: string, last: boolean, gatewayHost: string): Buffer {
  const eol = spec.lineEnd ?? '\r\n';
  const lines = [`${spec.method} ${withMarker(spec.target, marker)} ${spec.version ?? 'HTTP/1.1'}`];
  if (spec.host !== null) lines.push(`Host: ${spec.host ?? gatewayHost}`);
  for (const [name, value] of spec.headers ?? []) lines.push(`${name}: ${value}`);
  if (spec.requestId !== false) lines.push(`X-Request-Id: ${marker}`);
  if (last && !(spec.headers ?? []).some(([name]) => name.toLowerCase() === 'connection')) lines.push('Connection: close');
  return Buffer.concat([Buffer.from(`${lines.join(eol)}${eol}${eol}`, 'latin1'), spec.body ?? Buffer.alloc(0)]);
}

/** A header value given as text, as the bytes of its UTF-8 encoding (RequestSpec values are latin1). */
export const latin1 = (utf8: string) => Buffer.from(utf8, 'utf8').toString('latin1');
export const bearer = (token: string) => `Bearer ${token}`;
