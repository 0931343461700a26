// Issue #9, `npm start` (CONTRACT "Starting it"): prestart builds only when dist/ is missing or
// older than its inputs (scripts/build-if-stale.mjs), so a restart with nothing changed does not
// recompile, and a fresh clone (no dist/, no stamp) still builds before starting.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build, STAMP, staleReason } from '../scripts/build-if-stale.mjs';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
};

/** A project tree whose every file is dated `at` (seconds), built at `at` unless told otherwise. */
function project(at: number, { built = true } = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'gw-start-'));
  const files = ['src/main.ts', 'src/config/load-config.ts', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];
  if (built) files.push('dist/main.js', STAMP);
  for (const file of files) write(root, file, at);
  for (const dir of ['src/config', 'src']) utimesSync(join(root, dir), at, at);
  return root;
}

function write(root: string, file: string, at: number): void {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), file === 'package.json' ? '{}' : '');
  utimesSync(join(root, file), at, at);
}

const T = 1_700_000_000;
const roots: string[] = [];
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));
function tracked(root: string): string {
  roots.push(root);
  return root;
}

describe('package.json scripts', () => {
  it('prestart runs the staleness check; build stays the full tsc build; start is node dist/main.js with the measured heap cap', () => {
    expect(packageJson.scripts.prestart).toBe('node scripts/build-if-stale.mjs');
    expect(packageJson.scripts.build).toBe('tsc -p tsconfig.build.json');
    expect(packageJson.scripts.start).toBe('node --max-old-space-size=512 dist/main.js');
  });

  it('pretest runs the same check: the tests that start dist/main.js as a process run the current code', () => {
    expect(packageJson.scripts.pretest).toBe('node scripts/build-if-stale.mjs');
  });
});

describe('staleReason', () => {
  it('positive control: built after every input → undefined (no build)', () => {
    expect(staleReason(tracked(project(T)))).toBeUndefined();
  });

  it('fresh clone: no dist/ → build', () => {
    expect(staleReason(tracked(project(T, { built: false })))).toBe('dist/main.js is missing');
  });

  it('dist/ present but no successful build recorded (npm ci wiped the stamp, or a failed build) → build', () => {
    const root = tracked(project(T));
    unlinkSync(join(root, STAMP));
    expect(staleReason(root)).toBe('no successful build recorded yet');
  });

  it.each(['src/config/load-config.ts', 'tsconfig.build.json', 'tsconfig.json', 'package-lock.json', 'package.json'])(
    '%s edited after the build → build, naming it',
    (file) => {
      const root = tracked(project(T));
      utimesSync(join(root, file), T + 1, T + 1);
      expect(staleReason(root)).toBe(`${file} changed since the last build`);
    },
  );

  it('a source file added (its directory changes) → build', () => {
    const root = tracked(project(T));
    writeFileSync(join(root, 'src/config/new-rule.ts'), '');
    expect(staleReason(root)).toMatch(/^src\/config(\/new-rule\.ts)? changed since the last build$/);
  });

  it('a source file deleted → build, naming its directory', () => {
    const root = tracked(project(T));
    unlinkSync(join(root, 'src/config/load-config.ts'));
    expect(staleReason(root)).toBe('src/config changed since the last build');
  });

  it('only dist/ or files outside the inputs are newer → no build', () => {
    const root = tracked(project(T));
    write(root, 'README.md', T + 100);
    write(root, 'test/ops.e2e-spec.ts', T + 100);
    utimesSync(join(root, 'dist/main.js'), T + 100, T + 100);
    expect(staleReason(root)).toBeUndefined();
  });
});

describe('build', () => {
  /** A project whose `npm run build` is a stand-in for tsc that exits with `code`. */
  function withBuildScript(code: number): string {
    const root = tracked(project(T, { built: false }));
    const script = `node -e "require('fs').mkdirSync('dist',{recursive:true});require('fs').writeFileSync('dist/main.js','');process.exit(${code})"`;
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'x', private: true, scripts: { build: script } }));
    utimesSync(join(root, 'package.json'), T, T);
    return root;
  }

  it('a successful build records itself as of its start: the next check finds nothing to build', () => {
    const root = withBuildScript(0);
    const before = Date.now();
    expect(build(root)).toBe(0);
    const stampedAt = statSync(join(root, STAMP)).mtimeMs;
    expect(stampedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(stampedAt).toBeLessThanOrEqual(Date.now());
    expect(staleReason(root)).toBeUndefined();
  }, 30_000);

  it('a failed build (tsc emits even on type errors) records nothing: the next start builds again', () => {
    const root = withBuildScript(2);
    expect(build(root)).toBe(2);
    expect(staleReason(root)).toBe('no successful build recorded yet');
  }, 30_000);
});
