import { isInvalidTokenChallenge } from './bearer-error.js';

describe('isInvalidTokenChallenge', () => {
  it.each([
    ['Bearer error="invalid_token"', true],
    ['Bearer realm="x", error="invalid_token", error_description="expired"', true],
    ['bearer error=invalid_token', true],
    [['Basic realm="x"', 'Bearer error="invalid_token"'], true],
    ['Bearer realm="x"', false],
    ['Bearer error="insufficient_scope"', false],
    ['Basic realm="x", error="invalid_token"', false],
    [undefined, false],
  ] as const)('%j → %s', (header, expected) => {
    expect(isInvalidTokenChallenge(header as string | string[] | undefined)).toBe(expected);
  });
});
