// The one reader of the gateway's configuration (STYLE §4): environment and
// config file in, a frozen GatewayConfig and RuntimeSettings out, or a
// ConfigError listing every problem. Pure: it sees the world only through
// `source`, so tests need neither files nor process.env.
import { authVariablesSet } from './auth-from-env.js';
import { ConfigError } from './config-error.js';
import { deepFreeze } from './deep-freeze.js';
import { type ConfigIssue, formatIssues, formatPath } from './format-issues.js';
import type { GatewayConfig, RuntimeSettings } from './gateway-config.js';
import { parseConfigText } from './parse-config-file.js';
import { readRuntimeSettings } from './runtime-settings.js';
import { substituteEnv } from './substitute-env.js';
import { checkGatewayConfig } from './validate-config.js';

export { ConfigError } from './config-error.js';
export { validateConfig } from './validate-config.js';

export interface ConfigSource {
  env: Readonly<Record<string, string | undefined>>;
  readFile(path: string): string;
  fileExists(path: string): boolean;
}

export type LoadedConfig =
  | { mode: 'file'; path: string; config: GatewayConfig; settings: RuntimeSettings }
  | { mode: 'dev'; settings: RuntimeSettings };

/** Read when GATEWAY_CONFIG is unset; if it is absent too, the gateway starts in dev mode. */
export const DEFAULT_CONFIG_PATH = './gateway.yaml';

/** Near-misses of the default name: finding one refuses dev mode instead of ignoring the file. */
const LOOKALIKE_PATHS = ['./gateway.yml', './gateway.json'];

const PRODUCTION_REFUSAL = 'no config file and NODE_ENV=production: dev mode is refused in production; set GATEWAY_CONFIG';

/** Why dev mode must not start, if anything says so (fail closed: a misconfigured production never runs the demo). */
function devModeIssues(source: ConfigSource): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (source.env.NODE_ENV === 'production') issues.push({ path: [], message: PRODUCTION_REFUSAL });
  const auth = authVariablesSet(source.env);
  if (auth.length > 0) {
    issues.push({
      path: [],
      message: `${auth.join(', ')}: set, but there is no config file (${DEFAULT_CONFIG_PATH}); routes come only from a config file: set GATEWAY_CONFIG`,
    });
  }
  for (const path of LOOKALIKE_PATHS.filter((p) => source.fileExists(p))) {
    issues.push({ path: [], message: `${path} exists, but the default config file is ${DEFAULT_CONFIG_PATH}: rename it or set GATEWAY_CONFIG=${path}` });
  }
  return issues;
}

/** The file's text → frozen config, through parse, `${NAME}` substitution and validation. */
function readConfigFile(source: ConfigSource, path: string): { config?: GatewayConfig; issues: ConfigIssue[] } {
  let text: string;
  try {
    text = source.readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { issues: [{ path: [], message: `${path}: cannot be read (${code})` }] };
  }
  const parsed = parseConfigText(path, text);
  if (parsed.issues.length > 0) return { issues: parsed.issues };
  const substituted = substituteEnv(parsed.value, source.env);
  const checked = checkGatewayConfig(substituted.value, source.env);
  // A field whose variable is unset is reported once, for the variable, not again for the `${NAME}` left in it.
  const unresolved = new Set(substituted.issues.map((issue) => formatPath(issue.path)));
  const others = checked.issues.filter((issue) => !unresolved.has(formatPath(issue.path)));
  if (substituted.issues.length > 0) return { issues: [...substituted.issues, ...others] };
  return checked;
}

/**
 * GATEWAY_CONFIG names the file (a missing one is an error, never dev mode);
 * unset, ./gateway.yaml is read if it exists, else dev mode, which is refused
 * in production and when AUTH_* is set.
 *
 * @example
 * const loaded = loadConfig({ env: process.env, readFile: (p) => readFileSync(p, 'utf8'), fileExists: existsSync });
 * if (loaded.mode === 'file') console.log(loaded.config.routes.length);
 * @throws ConfigError listing every issue found
 */
export function loadConfig(source: ConfigSource): LoadedConfig {
  const { settings, issues: settingsIssues } = readRuntimeSettings(source.env);
  const configured = source.env.GATEWAY_CONFIG;
  let loaded: LoadedConfig | undefined;
  let issues: ConfigIssue[];
  if (configured === undefined && !source.fileExists(DEFAULT_CONFIG_PATH)) {
    issues = devModeIssues(source);
    // Dev mode's issuer signs tokens for whoever reads its banner: loopback only, unless HOST says otherwise.
    loaded = { mode: 'dev', settings: source.env.HOST === undefined ? { ...settings, host: '127.0.0.1' } : settings };
  } else if (configured === '') {
    issues = [{ path: ['GATEWAY_CONFIG'], message: `is empty: name a config file, or unset it to use ${DEFAULT_CONFIG_PATH}` }];
  } else if (configured !== undefined && !source.fileExists(configured)) {
    issues = [{ path: ['GATEWAY_CONFIG'], message: `config file ${configured} does not exist` }];
  } else {
    const path = configured ?? DEFAULT_CONFIG_PATH;
    const file = readConfigFile(source, path);
    issues = file.issues;
    if (file.config !== undefined) loaded = { mode: 'file', path, config: file.config, settings };
  }
  const all = [...issues, ...settingsIssues];
  if (all.length > 0 || loaded === undefined) throw new ConfigError(formatIssues(all));
  return deepFreeze(loaded);
}
