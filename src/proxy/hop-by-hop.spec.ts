import { connectionListed, copyEndToEndHeaders, isHopByHop } from './hop-by-hop.js';

describe('isHopByHop', () => {
  const cases = [
    { name: 'connection', hop: true },
    { name: 'keep-alive', hop: true },
    { name: 'te', hop: true },
    { name: 'trailer', hop: true },
    { name: 'transfer-encoding', hop: true },
    { name: 'upgrade', hop: true },
    { name: 'proxy-authorization', hop: true },
    { name: 'proxy-authenticate', hop: true },
    { name: 'proxy-connection', hop: true },
    { name: 'proxy-anything', hop: true },
    { name: 'proxy', hop: false },
    { name: 'trailers', hop: false },
    { name: 'content-length', hop: false },
    { name: 'content-type', hop: false },
    { name: 'authorization', hop: false },
    { name: 'x-proxy-id', hop: false },
  ];
  it.each(cases)('$name → $hop', ({ name, hop }) => {
    expect(isHopByHop(name)).toBe(hop);
  });
});

describe('connectionListed', () => {
  const cases = [
    { name: 'absent', header: undefined, expected: undefined },
    { name: 'empty', header: '', expected: undefined },
    { name: 'only commas and spaces', header: ' , ,', expected: undefined },
    { name: 'one token', header: 'close', expected: ['close'] },
    { name: 'tokens lower-cased and trimmed', header: 'Keep-Alive,  X-Secret ', expected: ['keep-alive', 'x-secret'] },
    { name: 'several headers', header: ['close', 'X-A, x-b'], expected: ['close', 'x-a', 'x-b'] },
    { name: 'duplicates once', header: 'x-a, X-A', expected: ['x-a'] },
  ];
  it.each(cases)('$name', ({ header, expected }) => {
    const listed = connectionListed(header);
    expect(listed === undefined ? undefined : [...listed]).toEqual(expected);
  });
});

describe('copyEndToEndHeaders', () => {
  const cases = [
    {
      name: 'hop-by-hop headers removed',
      source: {
        'connection': 'keep-alive',
        'keep-alive': 'timeout=5',
        'te': 'trailers',
        'trailer': 'x-checksum',
        'transfer-encoding': 'chunked',
        'upgrade': 'websocket',
        'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
        'proxy-connection': 'keep-alive',
        'content-type': 'application/json',
      },
      expected: { 'content-type': 'application/json' },
    },
    {
      name: 'Connection: x-secret removes x-secret',
      source: { 'connection': 'close, X-Secret', 'x-secret': 'internal', 'accept': 'text/plain' },
      expected: { accept: 'text/plain' },
    },
    {
      name: 'content-length and arrays kept, undefined skipped',
      source: { 'content-length': '12', 'set-cookie': ['a=1', 'b=2'], 'x-empty': undefined },
      expected: { 'content-length': '12', 'set-cookie': ['a=1', 'b=2'] },
    },
  ];
  it.each(cases)('$name', ({ source, expected }) => {
    const into: Record<string, string | string[]> = {};
    copyEndToEndHeaders(source, into);
    expect(into).toEqual(expected);
  });

  it('applies drop and keeps what is already in the target', () => {
    const into: Record<string, string | string[]> = { 'x-set-before': '1' };
    copyEndToEndHeaders({ 'x-internal': 'a', 'x-kept': 'b' }, into, (name) => name === 'x-internal');
    expect(into).toEqual({ 'x-set-before': '1', 'x-kept': 'b' });
  });
});
