import { requestIdFrom } from './request-id.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdFrom', () => {
  const kept = [
    { name: 'uuid', header: '0f8fad5b-d9cb-469f-a165-70867728950e' },
    { name: 'every allowed character', header: 'AZaz09-_.:' },
    { name: 'one character', header: 'x' },
    { name: '128 characters', header: 'a'.repeat(128) },
  ];
  it.each(kept)('keeps $name', ({ header }) => {
    expect(requestIdFrom(header)).toBe(header);
  });

  const replaced = [
    { name: 'absent', header: undefined },
    { name: 'empty', header: '' },
    { name: '129 characters', header: 'a'.repeat(129) },
    { name: 'space', header: 'a b' },
    { name: 'log injection newline', header: 'abc\nlevel=error msg=forged' },
    { name: 'trailing newline', header: 'abc\n' },
    { name: 'slash', header: 'a/b' },
    { name: 'non-ASCII', header: 'café' },
    { name: 'several headers', header: ['abc', 'def'] },
    { name: 'one-element array', header: ['abc'] },
  ];
  it.each(replaced)('replaces $name with a new UUID', ({ header }) => {
    expect(requestIdFrom(header)).toMatch(UUID);
  });

  it('makes a different id each time', () => {
    expect(requestIdFrom(undefined)).not.toBe(requestIdFrom(undefined));
  });
});
