import { hasDuplicateMember, parseJsonObjectStrict } from './strict-json.js';

describe('parseJsonObjectStrict', () => {
  it.each([
    ['top-level duplicate', '{"alg":"RS256","alg":"none"}'],
    ['escaped duplicate', '{"alg":"RS256","\\u0061lg":"none"}'],
    ['nested duplicate', '{"a":{"b":1,"b":2}}'],
    ['duplicate inside array element', '{"a":[{"x":1,"x":2}]}'],
  ])('%s is refused', (_name, text) => {
    expect(parseJsonObjectStrict(text)).toBeUndefined();
  });

  it.each([
    ['not JSON', '{"a":'],
    ['an array', '[1,2]'],
    ['a string', '"x"'],
    ['null', 'null'],
  ])('%s is refused', (_name, text) => {
    expect(parseJsonObjectStrict(text)).toBeUndefined();
  });

  it.each([
    ['same name at different depths', '{"a":{"a":1},"b":[{"a":2},{"a":3}]}', { a: { a: 1 }, b: [{ a: 2 }, { a: 3 }] }],
    ['colon and braces inside strings', '{"a":"x:{}\\"[","b":"a"}', { a: 'x:{}"[', b: 'a' }],
    ['a value equal to a key', '{"a":"a","b":"a"}', { a: 'a', b: 'a' }],
  ])('%s is accepted', (_name, text, expected) => {
    expect(parseJsonObjectStrict(text)).toEqual(expected);
  });

  it('scans long objects without false positives', () => {
    const obj = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, { [`k${i}`]: i }]));
    expect(hasDuplicateMember(JSON.stringify(obj))).toBe(false);
  });
});
