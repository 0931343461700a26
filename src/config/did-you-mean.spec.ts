import { describe, expect, it } from '@jest/globals';
import { editDistance, suggestField } from './did-you-mean.js';

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['scope', 'scopes', 1],
    ['jwks_uri', 'jwksuri', 1],
    ['kitten', 'sitting', 3],
    ['abc', '', 3],
  ])('%s → %s = %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
  });
});

describe('suggestField', () => {
  const known = ['id', 'pathPrefix', 'scopes', 'stripPrefix', 'timeoutMs', 'jwksUri'];
  it.each([
    ['scope', 'scopes'],
    ['PathPrefix', 'pathPrefix'],
    ['pathprefix', 'pathPrefix'],
    ['timeoutMS', 'timeoutMs'],
    ['jwks_uri', 'jwksUri'],
    ['stripprefx', 'stripPrefix'],
    ['timeout', 'timeoutMs'],
    ['limits', undefined],
    ['ab', undefined], // 2 edits from "id" would rewrite the whole word
    ['colour', undefined],
  ])('%s → %s', (unknown, suggestion) => {
    expect(suggestField(unknown, known)).toBe(suggestion);
  });

  it('prefers the closest, then the earliest', () => {
    expect(suggestField('scopex', ['scopes', 'scope'])).toBe('scopes');
    expect(suggestField('scop', ['scopes', 'scope'])).toBe('scope');
  });
});
