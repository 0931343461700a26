#!/usr/bin/env node
// `npm start`'s prestart: runs `npm run build` (the full build) only when dist/ is missing or
// older than what it is built from, so a restart with nothing changed does not recompile.
// Not `tsc --incremental`: measured here, a no-op incremental run still takes 14 s or more
// (it rebuilds the whole program to find nothing changed); comparing mtimes takes milliseconds.
//
// "Built" is a stamp written only after a build succeeded, dated when that build started
// (an edit made while tsc runs is newer than it). dist/main.js alone would not do: tsc writes
// its output even when type-checking fails. The stamp lives in node_modules/.cache, so
// `npm ci` (new dependencies) forces a build too.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Where the last successful build is recorded, relative to the project root. */
export const STAMP = 'node_modules/.cache/service-gateway/build-stamp';

/**
 * Why `root` needs a build, or undefined when dist/ is up to date. Inputs: every file and
 * directory under src/ (a directory's mtime moves when a file in it is added, removed or
 * renamed), tsconfig*.json, package.json and package-lock.json.
 *
 * @example
 * staleReason('/work/main'); // 'src/gateway.ts changed since the last build' | undefined
 */
export function staleReason(root) {
  if (!existsSync(join(root, 'dist/main.js'))) return 'dist/main.js is missing';
  const stamp = mtimeMs(join(root, STAMP));
  if (stamp === undefined) return 'no successful build recorded yet';
  const newer = inputs(root).find((path) => mtimeMs(path) > stamp);
  return newer === undefined ? undefined : `${relative(root, newer)} changed since the last build`;
}

/** Builds `root` with `npm run build`; on success, records the build as of its start. */
export function build(root) {
  const startedAtMs = Date.now();
  // npm_execpath: the npm that runs this script, without relying on PATH (or npm.cmd on Windows).
  const npm = process.env.npm_execpath;
  const [command, args] = npm?.endsWith('npm-cli.js') ? [process.execPath, [npm, 'run', 'build']] : ['npm', ['run', 'build']];
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) return result.status ?? 1;
  const stamp = join(root, STAMP);
  mkdirSync(dirname(stamp), { recursive: true });
  writeFileSync(stamp, `${new Date(startedAtMs).toISOString()}\n`);
  utimesSync(stamp, startedAtMs / 1000, startedAtMs / 1000);
  return 0;
}

function inputs(root) {
  const top = readdirSync(root).filter((name) => /^tsconfig.*\.json$|^package(-lock)?\.json$/.test(name));
  return [...top.map((name) => join(root, name)), ...walk(join(root, 'src'))];
}

function walk(dir) {
  const found = [dir];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...walk(path));
    else found.push(path);
  }
  return found;
}

function mtimeMs(path) {
  return statSync(path, { throwIfNoEntry: false })?.mtimeMs;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const reason = staleReason(root);
  if (reason === undefined) {
    process.stderr.write('dist/ is up to date: not rebuilding (`npm run build` forces a build)\n');
  } else {
    process.stderr.write(`building: ${reason}\n`);
    process.exitCode = build(root);
  }
}
