import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LOGGER, type Logger } from '../observability/logger.js';
import { safeError } from '../observability/safe-error.js';
import { errorLabel } from './error-label.js';
import { GatewayError } from './gateway-error.js';
import type { ProblemCode } from './problem-catalog.js';
import { sendProblem } from './problem-response.js';

/** Nest's and Fastify's own HTTP errors, by status, onto catalog codes. */
const CODE_FOR_STATUS: Readonly<Record<number, ProblemCode>> = {
  400: 'bad_request',
  404: 'route_not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'bad_request',
};

/**
 * The only @Catch(): every error the gateway answers itself becomes
 * application/problem+json here. Anything unknown is `internal` with a fixed
 * detail; its cause goes to the log.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const requestId = request.gateway?.requestId ?? '-';
    if (reply.raw.destroyed) {
      // The caller hung up (mid-body, or while a key or token was fetched): nobody to answer, and
      // not a fault of ours. Issue #8: this was an error-level "unhandled error" anyone could cause.
      this.log.debug({ requestId, error: errorLabel(exception) }, 'caller hung up before the answer');
      return;
    }
    if (reply.sent || reply.raw.headersSent) {
      // The upstream's answer had started: the only honest signal left is a cut connection.
      this.log.warn({ requestId, error: errorLabel(exception) }, 'response failed after it started');
      reply.raw.destroy();
      return;
    }
    sendProblem(reply, this.toGatewayError(exception, requestId), requestId, request.gateway?.rateLimit);
  }

  private toGatewayError(exception: unknown, requestId: string): GatewayError {
    if (exception instanceof GatewayError) {
      // A bug: its stack frames help; safeError keeps them and drops every message but ours.
      if (exception.code === 'internal') this.log.error({ requestId, err: safeError(exception) }, exception.detail);
      return exception;
    }
    const status = exception instanceof HttpException ? exception.getStatus() : statusOf(exception);
    const code = status !== undefined ? CODE_FOR_STATUS[status] : undefined;
    if (code) return new GatewayError(code, defaultDetail(code));
    this.log.error({ requestId, err: safeError(exception) }, 'unhandled error');
    return new GatewayError('internal', 'An unexpected error occurred');
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function defaultDetail(code: ProblemCode): string {
  switch (code) {
    case 'route_not_found':
      return 'No route matches this path';
    case 'payload_too_large':
      return 'The request body is too large';
    case 'method_not_allowed':
      return 'The route does not allow this method';
    default:
      return 'The request could not be processed';
  }
}
