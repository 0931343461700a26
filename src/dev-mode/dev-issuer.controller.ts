import { Controller, Get, Inject, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../auth/decorators.js';
import { DevIssuer } from './dev-issuer.js';

/** A token request is a short form; anything longer is refused unread. */
const MAX_FORM_BYTES = 4 * 1024;

/** The embedded issuer's endpoints: discovery, JWKS and the token endpoint. */
@Controller('.dev-issuer')
@Public()
export class DevIssuerController {
  constructor(@Inject(DevIssuer) private readonly issuer: DevIssuer) {}

  @Get('.well-known/openid-configuration')
  discovery(): Record<string, unknown> {
    return this.issuer.discovery();
  }

  @Get('jwks')
  jwks(): unknown {
    return this.issuer.jwks();
  }

  @Post('token')
  async token(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const form = await readForm(request);
    const outcome = form
      ? await this.issuer.token(form, request.headers.authorization)
      : ({ ok: false, status: 400, body: { error: 'invalid_request', error_description: 'expected a short form body' } } as const);
    reply.header('cache-control', 'no-store').code(outcome.ok ? 200 : outcome.status).send(outcome.body);
  }
}

async function readForm(request: FastifyRequest): Promise<URLSearchParams | undefined> {
  if (!request.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.raw) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
