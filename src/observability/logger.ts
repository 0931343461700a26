import { pino, type Logger } from 'pino';

/** Injection token for the process logger. */
export const LOGGER = Symbol('Logger');

/**
 * The gateway never logs headers, tokens or secrets; redaction is the safety
 * net for a field added by mistake, not the plan.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'gateway' },
      redact: {
        paths: [
          'authorization',
          '*.authorization',
          'headers',
          '*.headers',
          'token',
          '*.token',
          'clientSecret',
          '*.clientSecret',
          'secret',
          '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

export type { Logger };
