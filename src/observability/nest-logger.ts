import type { LoggerService } from '@nestjs/common';
import type { Logger } from './logger.js';

/** Nest's own messages (bootstrap, errors it catches itself) into the one pino logger. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly pino: Logger) {}
  log(message: unknown, context?: string): void {
    this.pino.debug({ context }, String(message));
  }
  // Nest's stack text (`_trace`) starts with the error's message: not logged. An Error goes through safeError.
  error(message: unknown, _trace?: string, context?: string): void {
    if (message instanceof Error) this.pino.error({ context, err: message }, message.name);
    else this.pino.error({ context }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.pino.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.pino.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.pino.trace({ context }, String(message));
  }
}
