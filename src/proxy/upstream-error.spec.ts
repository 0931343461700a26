import { upstreamFailure, UpstreamHeadersTimeout } from './upstream-error.js';

describe('upstreamFailure', () => {
  const withCode = (code: string, wrapped = false) => {
    const error = Object.assign(new Error('x'), { code });
    return wrapped ? Object.assign(new Error('outer'), { cause: error }) : error;
  };

  it.each([
    // Issue #8: no connection within the connect timeout is an unreachable upstream (502), not a slow one.
    { name: 'connect timeout', error: withCode('UND_ERR_CONNECT_TIMEOUT'), code: 'upstream_unreachable', detail: 'The upstream of route r could not be reached' },
    { name: 'refused', error: withCode('ECONNREFUSED'), code: 'upstream_unreachable', detail: 'The upstream of route r could not be reached' },
    { name: 'reset, wrapped by undici', error: withCode('ECONNRESET', true), code: 'upstream_unreachable', detail: 'The upstream of route r could not be reached' },
    { name: 'our header deadline', error: new UpstreamHeadersTimeout(), code: 'upstream_timeout', detail: 'The upstream of route r did not answer in time' },
    { name: "undici's header timeout", error: withCode('UND_ERR_HEADERS_TIMEOUT'), code: 'upstream_timeout', detail: 'The upstream of route r did not answer in time' },
    { name: 'an unknown error', error: new Error('boom'), code: 'upstream_unreachable', detail: 'The upstream of route r could not be reached' },
  ])('$name → $code', ({ error, code, detail }) => {
    expect(upstreamFailure(error, 'r')).toMatchObject({ code, detail });
  });
});
