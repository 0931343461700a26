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
