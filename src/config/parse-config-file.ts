// The config file's text → plain data. JSON is YAML 1.2, so one parser reads
// both. A repeated key is an error (no "last one wins" for a reviewer to miss),
// and so is anything the parser only warns about (an unknown tag). Messages
// give line and column but never quote the file: it may hold a secret.
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import type { ConfigIssue } from './format-issues.js';

const MESSAGE_BY_CODE: Readonly<Record<string, string>> = {
  MULTIPLE_DOCS: 'contains more than one YAML document (---); the config is one document',
};

/** At most this many alias expansions (YAML `*ref`), against "billion laughs" documents. */
const MAX_ALIAS_COUNT = 100;

/**
 * @example
 * parseConfigText('./gateway.yaml', 'a: 1\na: 2\n').issues[0].message;
 * // './gateway.yaml: line 2, column 1: Map keys must be unique'
 */
export function parseConfigText(path: string, text: string): { value: unknown; issues: ConfigIssue[] } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter });
  const problem = (error: YAMLError): ConfigIssue => {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    return { path: [], message: `${path}: line ${line}, column ${col}: ${MESSAGE_BY_CODE[error.code] ?? error.message}` };
  };
  const issues = [...document.errors, ...document.warnings].map(problem);
  if (issues.length > 0) return { value: undefined, issues };
  try {
    const value: unknown = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    if (value === null || value === undefined) return { value, issues: [{ path: [], message: `${path}: is empty` }] };
    return { value, issues: [] };
  } catch (error) {
    // Unresolved or excessive aliases surface only here.
    return { value: undefined, issues: [{ path: [], message: `${path}: ${(error as Error).message}` }] };
  }
}
