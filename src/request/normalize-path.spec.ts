import { normalizePath } from './normalize-path.js';

describe('normalizePath', () => {
  const accepted = [
    { name: 'root', url: '/', raw: [], match: [], query: '' },
    { name: 'root with query', url: '/?a=1', raw: [], match: [], query: '?a=1' },
    { name: 'plain path', url: '/api/orders/1', raw: ['api', 'orders', '1'], match: ['api', 'orders', '1'], query: '' },
    { name: 'query from the first ?', url: '/api/orders?x=1?y=/..', raw: ['api', 'orders'], match: ['api', 'orders'], query: '?x=1?y=/..' },
    { name: 'empty query kept', url: '/a?', raw: ['a'], match: ['a'], query: '?' },
    { name: 'trailing slash kept raw, dropped for matching', url: '/a/', raw: ['a', ''], match: ['a'], query: '' },
    { name: 'dots inside a segment are ordinary', url: '/files/report.v1.2.pdf/.x', raw: ['files', 'report.v1.2.pdf', '.x'], match: ['files', 'report.v1.2.pdf', '.x'], query: '' },
    { name: 'case variant /API/ADMIN matches admin route', url: '/API/ADMIN', raw: ['API', 'ADMIN'], match: ['api', 'admin'], query: '' },
    { name: ';jsessionid matrix param still matches', url: '/api/admin;jsessionid=ABC/users', raw: ['api', 'admin;jsessionid=ABC', 'users'], match: ['api', 'admin', 'users'], query: '' },
    { name: 'matrix param on the last segment', url: '/api/admin;x=1', raw: ['api', 'admin;x=1'], match: ['api', 'admin'], query: '' },
    { name: 'encoded semicolon also cuts for matching', url: '/api/admin%3bx', raw: ['api', 'admin%3bx'], match: ['api', 'admin'], query: '' },
    { name: 'percent-encoded letters decode for matching', url: '/api/%61dmin', raw: ['api', '%61dmin'], match: ['api', 'admin'], query: '' },
    { name: 'encoded upper case folds', url: '/api/%41DMIN', raw: ['api', '%41DMIN'], match: ['api', 'admin'], query: '' },
    { name: 'a literal percent sign (%25) that does not decode again is data', url: '/api/100%25/x', raw: ['api', '100%25', 'x'], match: ['api', '100%', 'x'], query: '' },
    { name: 'a double-encoded ordinary letter stays literal (%2561 → "%61")', url: '/api/%2561dmin', raw: ['api', '%2561dmin'], match: ['api', '%61dmin'], query: '' },
    { name: 'UTF-8 segment routes by its ASCII reading', url: '/caf%C3%A9', raw: ['caf%C3%A9'], match: ['cafe'], query: '' },
    { name: 'dotless ı folds like Java equalsIgnoreCase (adm%C4%B1n → admin)', url: '/api/adm%C4%B1n', raw: ['api', 'adm%C4%B1n'], match: ['api', 'admin'], query: '' },
    { name: 'dotted İ folds to i', url: '/api/adm%C4%B0N', raw: ['api', 'adm%C4%B0N'], match: ['api', 'admin'], query: '' },
    { name: 'long ſ folds to s', url: '/api/%C5%BFecret', raw: ['api', '%C5%BFecret'], match: ['api', 'secret'], query: '' },
    { name: 'Kelvin sign folds to k', url: '/api/%E2%84%AAeys', raw: ['api', '%E2%84%AAeys'], match: ['api', 'keys'], query: '' },
    // Issue #8: non-ASCII segments route by their ASCII reading, so a normalising upstream
    // (NFKC, IIS best fit) cannot be reached at `admin` through a spelling the table missed.
    { name: 'full-width ａdmin routes as admin', url: '/api/%EF%BD%81dmin', raw: ['api', '%EF%BD%81dmin'], match: ['api', 'admin'], query: '' },
    { name: 'full-width ＡＤＭＩＮ folds too', url: '/api/%EF%BC%A1%EF%BC%A4%EF%BC%AD%EF%BC%A9%EF%BC%AE', raw: ['api', '%EF%BC%A1%EF%BC%A4%EF%BC%AD%EF%BC%A9%EF%BC%AE'], match: ['api', 'admin'], query: '' },
    { name: 'ā (best fit) routes as a', url: '/api/%C4%81dmin', raw: ['api', '%C4%81dmin'], match: ['api', 'admin'], query: '' },
    { name: 'combining accent dropped (a + U+0301)', url: '/api/a%CC%81dmin', raw: ['api', 'a%CC%81dmin'], match: ['api', 'admin'], query: '' },
    { name: 'ligature ﬁ reads fi', url: '/api/%EF%AC%81les', raw: ['api', '%EF%AC%81les'], match: ['api', 'files'], query: '' },
    { name: 'CJK stays as it is', url: '/api/%E6%B3%A8%E6%96%87', raw: ['api', '%E6%B3%A8%E6%96%87'], match: ['api', '注文'], query: '' },
  ];

  it.each(accepted)('$name', ({ url, raw, match, query }) => {
    expect(normalizePath(url)).toEqual({ ok: true, rawSegments: raw, matchSegments: match, query });
  });

  const refused = [
    { name: '%2e%2e/ traversal', url: '/api/public/%2e%2e/admin', reason: 'dot segment in path' },
    { name: 'mixed-case %2E. traversal', url: '/api/public/%2E./admin', reason: 'dot segment in path' },
    { name: 'raw ../ traversal', url: '/api/public/../admin', reason: 'dot segment in path' },
    { name: 'raw ./ segment', url: '/api/./admin', reason: 'dot segment in path' },
    { name: 'trailing .. segment', url: '/api/..', reason: 'dot segment in path' },
    { name: '..;/ tomcat traversal', url: '/api/public/..;/admin', reason: 'dot segment in path' },
    { name: '.;x dot segment with parameters', url: '/api/.;x/admin', reason: 'dot segment in path' },
    { name: '%2e%2e%3b encoded tomcat traversal', url: '/api/public/%2e%2e%3b/admin', reason: 'dot segment in path' },
    { name: '%2f encoded slash', url: '/api/public%2f..%2fadmin', reason: 'encoded slash in path' },
    { name: '%2F upper-case encoded slash', url: '/api/a%2Fb', reason: 'encoded slash in path' },
    { name: '%5c encoded backslash', url: '/api/public%5c..%5cadmin', reason: 'encoded backslash in path' },
    { name: 'raw backslash', url: '/api/public\\..\\admin', reason: 'backslash in path' },
    { name: '//admin collapse', url: '//admin', reason: 'empty segment in path' },
    { name: '/api//admin collapse', url: '/api//admin', reason: 'empty segment in path' },
    { name: 'trailing // collapse', url: '/api//', reason: 'empty segment in path' },
    { name: 'matrix-only segment collapses like //', url: '/api/;x/admin', reason: 'empty segment in path' },
    { name: 'encoded NUL', url: '/api/admin%00.json', reason: 'control character in path' },
    { name: 'encoded newline', url: '/api/a%0Ab', reason: 'control character in path' },
    { name: 'raw tab', url: '/api/a\tb', reason: 'control character in path' },
    { name: 'raw DEL', url: '/api/a\u007fb', reason: 'control character in path' },
    { name: 'bad %xx', url: '/api/%zz', reason: 'invalid percent-encoding in path' },
    { name: 'truncated %', url: '/api/abc%', reason: 'invalid percent-encoding in path' },
    { name: 'invalid UTF-8', url: '/api/%C3%28', reason: 'invalid percent-encoding in path' },
    { name: 'overlong UTF-8 dot', url: '/api/%C0%AE%C0%AE/admin', reason: 'invalid percent-encoding in path' },
    { name: 'fragment', url: '/api/admin#x', reason: 'fragment in request target' },
    { name: 'absolute-form', url: 'http://evil/api', reason: 'request target is not an absolute path' },
    { name: 'asterisk-form', url: '*', reason: 'request target is not an absolute path' },
    { name: 'empty', url: '', reason: 'request target is not an absolute path' },
    // Issue #8 (found by the fuzzer): an upstream that decodes twice reads these as `..`, `/`, `\`.
    { name: 'double-encoded %252e%252e traversal', url: '/api/%252e%252e/admin', reason: 'double-encoded dot segment or separator in path' },
    { name: 'double-encoded %252f slash', url: '/api/a%252fb', reason: 'double-encoded dot segment or separator in path' },
    { name: 'double-encoded %255c backslash', url: '/api/a%255cb', reason: 'double-encoded dot segment or separator in path' },
    { name: 'double-encoded %252E. mixed traversal', url: '/api/%252E./admin', reason: 'double-encoded dot segment or separator in path' },
    // Issue #8: decided here (CONTRACT leaves them open).
    { name: 'encoded ? (an upstream that decodes then re-parses ends the path there)', url: '/api/admin%3F/x', reason: 'encoded "?" or "#" in path' },
    { name: 'encoded #', url: '/api/admin%23/x', reason: 'encoded "?" or "#" in path' },
    { name: 'encoded ? and # together', url: '/a%3Fb%23c', reason: 'encoded "?" or "#" in path' },
    { name: 'full-width ．． traversal', url: '/api/public/%EF%BC%8E%EF%BC%8E/admin', reason: 'dot segment in path' },
    { name: 'full-width solidus ／', url: '/api/public%EF%BC%8F..%EF%BC%8Fadmin', reason: 'encoded slash in path' },
    { name: 'full-width reverse solidus ＼', url: '/api/a%EF%BC%BCb', reason: 'encoded backslash in path' },
    { name: 'full-width question mark ？', url: '/api/admin%EF%BC%9F', reason: 'encoded "?" or "#" in path' },
    { name: 'full-width trailing dot', url: '/api/admin%EF%BC%8E', reason: 'path segment ending in a dot or a space' },
    { name: 'raw non-ASCII byte (latin1 é)', url: '/api/caf\u00e9', reason: 'non-ASCII byte in path (percent-encode it)' },
    { name: 'raw UTF-8 bytes as Node hands them (latin1 string)', url: '/api/\u00ef\u00bd\u0081dmin', reason: 'non-ASCII byte in path (percent-encode it)' },
  ];

  it.each(refused)('$name → $reason', ({ url, reason }) => {
    expect(normalizePath(url)).toEqual({ ok: false, reason });
  });

  it('never echoes the path in a reason', () => {
    const secret = 'S3CRET-token-in-path';
    for (const url of [`/${secret}/%2e%2e`, `/${secret}%2f`, `/${secret}//x`, `/${secret}\\`, `/${secret}%zz`]) {
      const result = normalizePath(url);
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).not.toContain(secret);
    }
  });

  it('does not treat the query as path', () => {
    expect(normalizePath('/a?b=%2f..//\\')).toEqual({ ok: true, rawSegments: ['a'], matchSegments: ['a'], query: '?b=%2f..//\\' });
  });
});

describe('segments an upstream would read differently', () => {
  it.each([
    ['trailing dot (IIS/Windows strip it)', '/api/orders/admin.'],
    ['trailing dot with upper case', '/api/orders/Admin.'],
    ['encoded trailing space', '/api/orders/admin%20'],
    ['trailing dot before matrix params', '/api/orders/admin.;x=1'],
  ])('%s is refused', (_name, path) => {
    expect(normalizePath(path)).toEqual({ ok: false, reason: 'path segment ending in a dot or a space' });
  });

  it.each(['/files/report.pdf', '/a/.well-known/x', '/v1.2/x'])('%s (an inner or leading dot) is fine', (path) => {
    expect(normalizePath(path).ok).toBe(true);
  });
});
