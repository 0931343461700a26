import { errorLabel } from '../../errors/error-label.js';
import { ServiceTokenError } from './service-token.js';

/** Any failure of a token fetch as a ServiceTokenError; foreign errors count as retryable. */
export function asServiceTokenError(error: unknown, name: string): ServiceTokenError {
  if (error instanceof ServiceTokenError) return error;
  // Not ours (a bug, a custom fetcher): its message is not ours to repeat, only its name.
  return new ServiceTokenError(`client ${name}: token request failed (${errorLabel(error)})`, name, true);
}

/** The same failure, telling callers to wait out the remaining backoff (whole seconds, at least 1). */
export function withRetryAfter(error: ServiceTokenError, remainingMs: number): ServiceTokenError {
  const seconds = Math.max(1, Math.ceil(remainingMs / 1000));
  return new ServiceTokenError(error.message, error.client, error.retryable, error.oauthError, seconds);
}
