/**
 * What a log line or an error message may say about a caught error: its code
 * (ECONNREFUSED, UND_ERR_SOCKET, …), else its class name. Never its message:
 * libraries quote request data, URLs with credentials or token text there.
 */
export function errorLabel(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'unknown error';
}
