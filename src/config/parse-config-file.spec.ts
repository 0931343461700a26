import { describe, expect, it } from '@jest/globals';
import { formatIssues } from './format-issues.js';
import { parseConfigText } from './parse-config-file.js';

const issuesOf = (path: string, text: string) => formatIssues(parseConfigText(path, text).issues);

describe('parseConfigText', () => {
  it('reads YAML and JSON alike', () => {
    const expected = { routes: [{ id: 'orders', throttle: { limit: 5 } }], trustProxy: [] };
    expect(parseConfigText('gw.yaml', 'routes:\n  - id: orders\n    throttle: { limit: 5 }\ntrustProxy: []\n')).toEqual({ value: expected, issues: [] });
    expect(parseConfigText('gw.json', '{\n\t"routes": [{"id": "orders", "throttle": {"limit": 5}}],\n\t"trustProxy": []\n}\n')).toEqual({ value: expected, issues: [] });
  });

  it('reads YAML 1.2: yes/no/on are strings, not booleans', () => {
    expect(parseConfigText('gw.yaml', 'a: yes\nb: on\nc: true\n').value).toEqual({ a: 'yes', b: 'on', c: true });
  });

  it.each([
    ['a repeated YAML key', 'gw.yaml', 'routes: []\nauth: {}\nroutes: []\n', 'gw.yaml: line 3, column 1: Map keys must be unique'],
    ['a repeated JSON member', 'gw.json', '{"routes": [],\n "routes": []}', 'gw.json: line 2, column 2: Map keys must be unique'],
    ['an unclosed list', 'gw.yaml', 'trustProxy: [10.0.0.0/8\n', 'gw.yaml: line 2, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['tab indentation', 'gw.yaml', 'auth:\n\tissuers: []\n', 'gw.yaml: line 2, column 1: Tabs are not allowed as indentation'],
    ['two documents', 'gw.yaml', 'routes: []\n---\nroutes: []\n', 'gw.yaml: line 2, column 1: contains more than one YAML document (---); the config is one document'],
    ['an unknown tag', 'gw.yaml', 'x: !secret abc\n', 'gw.yaml: line 1, column 4: Unresolved tag: !secret'],
    ['an alias without anchor', 'gw.yaml', 'x: *nothing\n', 'gw.yaml: Unresolved alias (the anchor must be set before the alias): nothing'],
    ['an empty file', 'gw.yaml', '# only a comment\n', 'gw.yaml: is empty'],
  ])('%s → %s', (_name, path, text, message) => {
    expect(issuesOf(path, text)).toEqual([message]);
  });

  it('never quotes the file in a message (it may hold a literal secret)', () => {
    const issues = issuesOf('gw.yaml', 'clientSecret: hunter2\nclientSecret: hunter2\n');
    expect(issues).toEqual(['gw.yaml: line 2, column 1: Map keys must be unique']);
  });

  it('refuses alias bombs', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
      .concat(['b', 'c', 'd', 'e'].map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcd'[i]}`).join(', ')}]`))
      .join('\n');
    expect(issuesOf('gw.yaml', bomb)).toEqual([
      'gw.yaml: Excessive alias count indicates a resource exhaustion attack',
    ]);
  });
});
