import { GatewayError } from '../errors/gateway-error.js';

/** Causes followed at most this deep; stack frames kept per error. */
const MAX_CAUSE_DEPTH = 3;
const MAX_STACK_FRAMES = 12;

/** An error as a log line may carry it. */
export interface SafeError {
  readonly type: string;
  readonly code?: string;
  /** Only a GatewayError's: its detail is written for callers, so it is safe to log. */
  readonly message?: string;
  readonly stack?: string;
  readonly cause?: SafeError | string;
}

/**
 * pino's serializer for `err` and `error`: type, code and stack frames, never a message
 * (pino's own `err` serializer writes message, stack and every `cause`). Libraries quote what
 * they failed on: `JSON.parse` quotes a token's decoded payload, undici a URL with credentials,
 * jose a claim. A GatewayError's message is the gateway's own text and is kept; its `cause`
 * (often such a library error) is reduced the same way. Strings (errorLabel's output) pass.
 *
 * @example
 * safeError(new SyntaxError('Unexpected token … "{"sub":"alice"…" is not valid JSON'));
 * // { type: 'SyntaxError', stack: '    at JSON.parse (<anonymous>)\n…' }
 */
export function safeError(value: unknown, depth = 0): SafeError | string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (SERIALIZED.has(value as object)) return value as SafeError; // already reduced (a caller that logs with any pino)
  if (!(value instanceof Error)) return typeof value === 'object' ? 'non-error object' : typeof value;
  const code = (value as { code?: unknown }).code;
  const cause = depth < MAX_CAUSE_DEPTH ? safeError(value.cause, depth + 1) : undefined;
  const safe: SafeError = {
    type: value.name,
    ...(typeof code === 'string' && { code }),
    ...(value instanceof GatewayError && { message: value.message }),
    ...(value.stack !== undefined && { stack: stackFrames(value.stack) }),
    ...(cause !== undefined && { cause }),
  };
  SERIALIZED.add(safe);
  return safe;
}

/** safeError's own results: serializing one again returns it as it is. */
const SERIALIZED = new WeakSet<object>();

/** The `    at …` lines only: the first line(s) of a stack repeat the message. */
function stackFrames(stack: string): string {
  return stack
    .split('\n')
    .filter((line) => line.startsWith('    at '))
    .slice(0, MAX_STACK_FRAMES)
    .join('\n');
}
