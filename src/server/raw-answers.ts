// Answers written straight to a socket, for requests Fastify never sees: bytes Node's HTTP parser
// refuses (clientError) and CONNECT (Node's 'connect' event). The problem body is the same RFC 9457
// shape the exception filter writes.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { HTTP_METHODS } from '../config/gateway-config.js';
import { PROBLEMS, problemType, type ProblemCode } from '../errors/problem-catalog.js';

/**
 * Node's clientError: a raw problem+json answer (431 for oversized headers), then close.
 * Requests parsed whole before the bad bytes (pipelined) were already taken, and maybe
 * forwarded: their answers go out first, in order, and the problem follows them (issue #8: the
 * fuzzer saw the 400 overtake a forwarded request's answer, which was then lost). When the bad
 * bytes are inside the body of the request being answered, that request is the one refused.
 */
export function answerUnparsableRequest(error: Error & { code?: string }, socket: Socket): void {
  if (unparsable.has(socket)) return;
  unparsable.add(socket);
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const title = status === 431 ? 'Request header fields too large' : status === 408 ? 'Request timeout' : 'Bad request';
  afterWholeRequestsAnswered(socket, () =>
    writeRawProblem(socket, { status, title, code: 'bad_request', detail: 'The request could not be parsed as HTTP' }),
  );
}

/** Sockets whose parse error is answered (or will be): Node reports the error again for every later chunk. */
const unparsable = new WeakSet<Socket>();

type ServerSocket = Socket & { _httpMessage?: (ServerResponse & { req?: IncomingMessage }) | null };

/**
 * Runs `then` once no answer to a wholly received request is being written on `socket`. An answer
 * already under way to an incomplete request (whose body held the bad bytes) cannot be followed
 * by another: the connection is cut instead, as it is when the socket can no longer be written.
 */
function afterWholeRequestsAnswered(socket: ServerSocket, then: () => void): void {
  const inFlight = socket._httpMessage;
  if (inFlight && !inFlight.writableFinished && !inFlight.destroyed && inFlight.req?.complete === true) {
    // Node hands the socket to the next queued response on 'finish'; look again after it has.
    inFlight.once('finish', () => setImmediate(afterWholeRequestsAnswered, socket, then));
    return;
  }
  if (!socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  then();
}

/**
 * CONNECT never reaches Fastify (Node hands it to the server's 'connect' event, which
 * would otherwise cut the connection without a word): 405, like TRACE on a route.
 */
export function answerConnect(_request: IncomingMessage, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  writeRawProblem(socket, {
    status: 405,
    title: PROBLEMS.method_not_allowed.title,
    code: 'method_not_allowed',
    detail: 'The gateway does not tunnel CONNECT requests',
    extraHeaders: `allow: ${HTTP_METHODS.join(', ')}\r\n`,
  });
}

/** A problem+json answer written straight to a socket Fastify never saw, then the connection ends. */
function writeRawProblem(
  socket: Duplex,
  problem: { status: number; title: string; code: ProblemCode; detail: string; extraHeaders?: string },
): void {
  const requestId = randomUUID();
  const { status, title } = problem;
  const body = JSON.stringify({ type: problemType(problem.code), title, status, detail: problem.detail, requestId });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${requestId}\r\n${problem.extraHeaders ?? ''}connection: close\r\n\r\n${body}`,
  );
}

