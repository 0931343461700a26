import { describe, expect, it } from '@jest/globals';
import { formatIssue, formatIssues, formatPath } from './format-issues.js';

describe('formatPath', () => {
  it.each<[PropertyKey[], string]>([
    [[], ''],
    [['routes', 1, 'throttle', 'limit'], 'routes[1].throttle.limit'],
    [['throttle', 'clients', 'partner-42', 0, 'limit'], 'throttle.clients.partner-42[0].limit'],
    [['clients', 'a.b', 'tokenUrl'], 'clients["a.b"].tokenUrl'],
    [['clients', '42'], 'clients["42"]'],
    [['TOKEN_CACHE_KEY', 1], 'TOKEN_CACHE_KEY[1]'],
  ])('%j → %s', (path, text) => {
    expect(formatPath(path)).toBe(text);
  });
});

describe('formatIssue(s)', () => {
  it('writes path: reason, or the bare reason at the top level', () => {
    expect(formatIssue({ path: ['shutdown', 'drainSeconds'], message: 'must be an integer 0..3600' })).toBe(
      'shutdown.drainSeconds: must be an integer 0..3600',
    );
    expect(formatIssue({ path: [], message: 'the config must be a mapping' })).toBe('the config must be a mapping');
  });

  it('drops repeated lines, keeping the order', () => {
    const issue = { path: ['routes', 0, 'timeoutMs'], message: 'must be an integer 1..300000' };
    expect(formatIssues([issue, { path: ['routes'], message: 'x' }, issue])).toEqual([
      'routes[0].timeoutMs: must be an integer 1..300000',
      'routes: x',
    ]);
  });
});
