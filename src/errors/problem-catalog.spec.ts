import { readFileSync } from 'node:fs';
import { AUTH_FAILURES } from '../auth/auth-failure.js';
import { PROBLEMS, type ProblemCode } from './problem-catalog.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Every status CONTRACT.md's "What a caller sees" table promises. */
const CONTRACT_STATUSES = [400, 401, 403, 404, 405, 429, 502, 503, 504];

describe('problem catalog', () => {
  it.each(Object.keys(PROBLEMS))('README documents the code %s', (code) => {
    expect(readme).toContain(`| \`${code}\` | ${PROBLEMS[code as ProblemCode].status} |`);
  });

  it.each(CONTRACT_STATUSES)('CONTRACT status %i has a catalog code', (status) => {
    expect(Object.values(PROBLEMS).some((entry) => entry.status === status)).toBe(true);
  });

  it.each(Object.entries(AUTH_FAILURES))('README documents the auth failure %s', (reason, description) => {
    expect(readme).toContain(`| \`${reason}\` | ${description}`);
  });
});
