import { describe, expect, it } from '@jest/globals';
import { formatIssues } from './format-issues.js';
import { substituteEnv } from './substitute-env.js';

const env = { HOST: 'orders.internal', PORT: '8080', EMPTY: '', SECRET: 'p"a\'ss\n  word: {x}', NESTED: '${HOST}' };

describe('substituteEnv', () => {
  it.each([
    ['http://${HOST}:${PORT}/v1', 'http://orders.internal:8080/v1'],
    ['${EMPTY}', ''],
    ['$${HOST}', '${HOST}'],
    ['$$${HOST}', '$${HOST}'], // `$${` is the escape; the `$` before it stays
    ['cost: $5 and $$', 'cost: $5 and $$'],
    ['$HOST', '$HOST'], // only the braced form is a reference
    ['${NESTED}', '${HOST}'], // replaced text is not scanned again
    ['${SECRET}', env.SECRET],
  ])('%s → %s', (text, expected) => {
    expect(substituteEnv({ value: text }, env)).toEqual({ value: { value: expected }, issues: [] });
  });

  it('keeps a secret with quotes and newlines one string: substitution happens after parsing', () => {
    const { value } = substituteEnv({ clients: { a: { clientSecret: '${SECRET}', clientId: 'x' } } }, env);
    expect(value).toEqual({ clients: { a: { clientSecret: env.SECRET, clientId: 'x' } } });
  });

  it('walks lists and mappings, leaves keys and non-strings alone', () => {
    const document = { '${HOST}': ['${PORT}', 3, true, null, { deep: '${HOST}' }] };
    expect(substituteEnv(document, env).value).toEqual({ '${HOST}': ['8080', 3, true, null, { deep: 'orders.internal' }] });
  });

  it('reports every unset variable where it is used, each once per value', () => {
    const document = {
      routes: [{ upstream: 'http://${ORDERS_HOST}:${ORDERS_PORT}' }, { upstream: 'http://${ORDERS_HOST}/${ORDERS_HOST}' }],
    };
    expect(formatIssues(substituteEnv(document, env).issues)).toEqual([
      'routes[0].upstream: environment variable ORDERS_HOST is not set',
      'routes[0].upstream: environment variable ORDERS_PORT is not set',
      'routes[1].upstream: environment variable ORDERS_HOST is not set',
    ]);
  });

  it.each(['${}', '${1ABC}', '${A-B}', '${HOST', 'a ${ b'])('%s is not a reference: an error, not literal text', (text) => {
    expect(formatIssues(substituteEnv({ clientId: text }, env).issues)).toEqual([
      'clientId: "${" must start a reference like ${NAME} (write "$${" for a literal "${")',
    ]);
  });

  it('refuses a __proto__ key (it would replace the prototype, not add a field)', () => {
    const document = JSON.parse('{"clients": {"__proto__": {"clientId": "x"}}}') as unknown;
    const result = substituteEnv(document, env);
    expect(formatIssues(result.issues)).toEqual(['clients.__proto__: this key is not allowed']);
    expect(result.value).toEqual({ clients: {} });
  });
});
