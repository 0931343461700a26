import type { IncomingMessage, ServerResponse } from 'node:http';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Hands a request to `handle` when it is its turn on the connection. Node gives every pipelined
 * request to the server at once and only queues the answers, so a request behind one whose answer
 * closes the connection would still be forwarded, and its answer dropped (found by the fuzzer).
 * Its turn comes when Node gives its response the socket; one whose connection is closing by then
 * (or closes first) is never handled.
 */
export function handleInTurn(request: IncomingMessage, response: ServerResponse, handle: Handler): void {
  if (response.socket !== null) {
    if (!onClosingConnection(response)) handle(request, response);
    return;
  }
  const onTurn = () => {
    request.off('close', onClosed);
    if (!onClosingConnection(response)) handle(request, response);
  };
  const onClosed = () => response.off('socket', onTurn);
  response.once('socket', onTurn);
  request.once('close', onClosed);
}

/** Node ends the connection after an answer that said `Connection: close`, yet still parses what came behind it. */
function onClosingConnection(response: ServerResponse): boolean {
  return response.socket !== null && !response.socket.writable;
}
