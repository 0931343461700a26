// Parsers for single environment values, shared by the runtime settings and
// the Redis variables. Each answers the value or a problem that never repeats
// the value (it may be a secret).
import { isIP } from 'node:net';

export type Parsed<T> = { value: T } | { problem: string };

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** An IP address (v4 or v6, no brackets) or a DNS host name. */
export function isHostOrIp(value: string): boolean {
  return isIP(value) !== 0 || HOST_NAME.test(value);
}

/** A port as the text of an integer 0..65535. */
export function port(value: string): Parsed<number> {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  return n <= 65_535 ? { value: n } : { problem: 'must be an integer 0..65535' };
}

export function host(value: string): Parsed<string> {
  return isHostOrIp(value) ? { value } : { problem: 'must be an IP address or a host name' };
}
