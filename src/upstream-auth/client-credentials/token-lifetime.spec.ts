import {
  DEFAULT_LIFETIME_SECONDS,
  isUsable,
  isWellFormed,
  serviceTokenFrom,
  usableUntil,
} from './token-lifetime.js';

const ISSUED_AT = 1_700_000_000_000;
const s = (seconds: number) => ISSUED_AT + seconds * 1000;

describe('serviceTokenFrom / usableUntil: refresh-point arithmetic', () => {
  it.each([
    // the earlier of 80% and exp − 60 s; margin 30 s before exp
    { expiresIn: 3600, expiresAt: s(3600), refreshAt: s(2880), usableUntil: s(3570) },
    // 80% and exp − 60 s coincide
    { expiresIn: 300, expiresAt: s(300), refreshAt: s(240), usableUntil: s(270) },
    // exp − 60 s comes first
    { expiresIn: 90, expiresAt: s(90), refreshAt: s(30), usableUntil: s(60) },
    // short lifetimes: refresh after a quarter (not at issue: that would refresh on every call),
    // margin half the refresh window (a 30 s margin would leave nothing usable)
    { expiresIn: 60, expiresAt: s(60), refreshAt: s(15), usableUntil: s(37.5) },
    { expiresIn: 30, expiresAt: s(30), refreshAt: s(7.5), usableUntil: s(18.75) },
    // no expires_in: the conservative default of 300 s
    { expiresIn: undefined, expiresAt: s(300), refreshAt: s(240), usableUntil: s(270) },
    // over a day is read as a day
    { expiresIn: 10 * 365 * 86_400, expiresAt: s(86_400), refreshAt: s(69_120), usableUntil: s(86_370) },
  ])('expires_in $expiresIn', ({ expiresIn, expiresAt, refreshAt, usableUntil: until }) => {
    const token = serviceTokenFrom('at', expiresIn, ISSUED_AT);
    expect(token).toEqual({ accessToken: 'at', expiresAt, refreshAt });
    expect(usableUntil(token)).toBe(until);
    expect(isUsable(token, until - 1)).toBe(true);
    expect(isUsable(token, until)).toBe(false);
  });

  it('the default lifetime is 300 s', () => {
    expect(DEFAULT_LIFETIME_SECONDS).toBe(300);
  });

  it('for every lifetime: issue ≤ refresh point < last usable instant < expiry', () => {
    for (const expiresIn of [1, 2, 5, 10, 29, 30, 31, 59, 60, 61, 75, 80, 90, 119, 120, 121, 299, 300, 301, 3599, 3600, 86_400]) {
      const token = serviceTokenFrom('at', expiresIn, ISSUED_AT);
      expect(token.refreshAt).toBeGreaterThan(ISSUED_AT);
      expect(token.refreshAt).toBeLessThan(usableUntil(token));
      expect(usableUntil(token)).toBeLessThan(token.expiresAt);
      expect(token.expiresAt - usableUntil(token)).toBeLessThanOrEqual(30_000);
    }
  });
});

describe('isWellFormed: what a shared store hands back', () => {
  it.each([
    { name: 'a token', value: { accessToken: 'at', expiresAt: 2, refreshAt: 1 }, ok: true },
    { name: 'refresh after expiry', value: { accessToken: 'at', expiresAt: 1, refreshAt: 2 }, ok: false },
    { name: 'empty token', value: { accessToken: '', expiresAt: 2, refreshAt: 1 }, ok: false },
    { name: 'token with a newline', value: { accessToken: 'a\nb', expiresAt: 2, refreshAt: 1 }, ok: false },
    { name: 'expiry as a string', value: { accessToken: 'at', expiresAt: '2', refreshAt: 1 }, ok: false },
    { name: 'infinite expiry', value: { accessToken: 'at', expiresAt: Infinity, refreshAt: 1 }, ok: false },
    { name: 'null', value: null, ok: false },
  ])('$name → $ok', ({ value, ok }) => {
    expect(isWellFormed(value)).toBe(ok);
  });
});
