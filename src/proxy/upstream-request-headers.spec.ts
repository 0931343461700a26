import { upstreamRequestHeaders, type ForwardContext } from './upstream-request-headers.js';

const base: ForwardContext = {
  requestId: 'req-1',
  forwardedFor: '198.51.100.7',
  forwardedProto: 'https',
  forwardedHost: 'api.example.com',
};
const gatewaySet = {
  'x-request-id': 'req-1',
  'x-forwarded-for': '198.51.100.7',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'api.example.com',
};

describe('upstreamRequestHeaders', () => {
  const cases: { name: string; incoming: Record<string, string | string[] | undefined>; ctx: ForwardContext; expected: Record<string, string | string[]> }[] = [
    {
      name: 'ordinary headers and content-length kept',
      incoming: { 'accept': 'application/json', 'content-type': 'application/json', 'content-length': '42', 'x-custom': ['a', 'b'] },
      ctx: base,
      expected: { 'accept': 'application/json', 'content-type': 'application/json', 'content-length': '42', 'x-custom': ['a', 'b'], ...gatewaySet },
    },
    {
      name: 'spoofed x-auth-* removed (public route: none sent)',
      incoming: { 'x-auth-subject': 'admin', 'x-auth-client-id': 'root', 'x-auth-scopes': 'admin:all', 'x-auth-anything': '1' },
      ctx: base,
      expected: { ...gatewaySet },
    },
    {
      name: 'spoofed x-auth-* replaced by the verified identity',
      incoming: { 'x-auth-subject': 'admin', 'x-auth-scopes': 'admin:all', 'x-auth-role': 'root' },
      ctx: { ...base, identity: { subject: 'svc-a', clientId: 'client-a', scopes: ['orders:read', 'orders:write'] } },
      expected: { ...gatewaySet, 'x-auth-subject': 'svc-a', 'x-auth-client-id': 'client-a', 'x-auth-scopes': 'orders:read orders:write' },
    },
    {
      name: 'identity without scopes, subject or client id: no x-auth-* at all',
      incoming: {},
      ctx: { ...base, identity: { scopes: [] } },
      expected: { ...gatewaySet },
    },
    {
      name: 'identity with client id only',
      incoming: {},
      ctx: { ...base, identity: { clientId: 'client-a', scopes: ['a'] } },
      expected: { ...gatewaySet, 'x-auth-client-id': 'client-a', 'x-auth-scopes': 'a' },
    },
    {
      // Issue #8 (found by the fuzzer): a CGI-style upstream reads `_` as `-`.
      name: 'hop-by-hop headers spelled with _ removed; other _ names kept',
      incoming: { 'keep_alive': 'timeout=5', 'proxy_authorization': 'Basic x', 'transfer_encoding': 'chunked', 'upgrade': undefined, 'x_custom_id': '7' },
      ctx: base,
      expected: { 'x_custom_id': '7', ...gatewaySet },
    },
    {
      name: 'caller authorization dropped when none is configured',
      incoming: { authorization: 'Bearer caller-token' },
      ctx: base,
      expected: { ...gatewaySet },
    },
    {
      name: 'authorization comes only from ctx',
      incoming: { authorization: 'Bearer caller-token' },
      ctx: { ...base, authorization: 'Bearer service-token' },
      expected: { ...gatewaySet, authorization: 'Bearer service-token' },
    },
    {
      name: 'caller forwarding headers, host and request id replaced',
      incoming: {
        'host': 'api.example.com',
        'x-forwarded-for': '1.2.3.4',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'evil.example',
        'forwarded': 'for=1.2.3.4;host=evil.example',
        'x-request-id': 'caller-id',
      },
      ctx: base,
      expected: { ...gatewaySet },
    },
    {
      name: 'no forwarded host: header omitted',
      incoming: { host: 'api.example.com' },
      ctx: { ...base, forwardedHost: undefined },
      expected: { 'x-request-id': 'req-1', 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' },
    },
    {
      name: 'hop-by-hop headers removed',
      incoming: {
        'connection': 'keep-alive, upgrade',
        'keep-alive': 'timeout=5',
        'te': 'trailers',
        'trailer': 'x-sum',
        'transfer-encoding': 'chunked',
        'upgrade': 'h2c',
        'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
        'proxy-connection': 'keep-alive',
        'accept': '*',
      },
      ctx: base,
      expected: { accept: '*', ...gatewaySet },
    },
    {
      name: 'Connection: x-secret removes x-secret',
      incoming: { 'connection': 'X-Secret', 'x-secret': 'only-for-this-hop', 'accept': '*' },
      ctx: base,
      expected: { accept: '*', ...gatewaySet },
    },
    {
      name: 'Connection cannot remove what the gateway sets',
      incoming: { connection: 'x-request-id, x-forwarded-for, authorization, x-auth-subject' },
      ctx: { ...base, authorization: 'Bearer service-token', identity: { subject: 'svc-a', scopes: [] } },
      expected: { ...gatewaySet, 'authorization': 'Bearer service-token', 'x-auth-subject': 'svc-a' },
    },
    {
      name: 'expect dropped (already answered; undici refuses it)',
      incoming: { 'expect': '100-continue', 'content-length': '5' },
      ctx: base,
      expected: { 'content-length': '5', ...gatewaySet },
    },
  ];

  it.each(cases)('$name', ({ incoming, ctx, expected }) => {
    const headers = upstreamRequestHeaders(incoming, ctx);
    expect(headers).toEqual(expected);
    expect(Object.keys(headers).sort()).toEqual(Object.keys(expected).sort());
  });

  it('does not change the incoming headers', () => {
    const incoming = { 'x-auth-subject': 'admin', 'host': 'h', 'connection': 'x-a', 'x-a': '1' };
    upstreamRequestHeaders(incoming, base);
    expect(incoming).toEqual({ 'x-auth-subject': 'admin', 'host': 'h', 'connection': 'x-a', 'x-a': '1' });
  });
});
