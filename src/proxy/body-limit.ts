import { Transform, type TransformCallback } from 'node:stream';
import { RequestBodyTooLarge } from './upstream-error.js';

/** Passes a body through, failing once it exceeds `maxBytes` (chunked bodies announce no length). */
export function limitBody(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(new RequestBodyTooLarge(`body over ${maxBytes} bytes`));
      else callback(null, chunk);
    },
  });
}

/** Reads a body of a declared, small length into memory (for a possible replay); never more than declared. */
export async function readSmallBody(stream: NodeJS.ReadableStream, declaredLength: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > declaredLength) throw new RequestBodyTooLarge(`body longer than its Content-Length ${declaredLength}`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
