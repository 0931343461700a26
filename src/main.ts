import 'reflect-metadata';
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from './config/load-config.js';
import { prepareDevMode } from './dev-mode/dev-mode.js';
import { startGateway, type RunningGateway } from './gateway.js';
import { createLogger, type Logger } from './observability/logger.js';
import { GatewayMetrics } from './observability/metrics.js';

/** Bootstrap only: config → gateway → listen → shutdown hooks. */
async function main(): Promise<void> {
  // Until the gateway serves, a SIGHUP has nothing to reload; it must not end the process either.
  const ignoreEarlyHangup = () => process.stderr.write('SIGHUP ignored: the gateway is still starting\n');
  process.on('SIGHUP', ignoreEarlyHangup);
  let loaded;
  try {
    loaded = loadConfig({ env: process.env, readFile: (path) => readFileSync(path, 'utf8'), fileExists: existsSync });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(loaded.settings.logLevel);

  const dev = loaded.mode === 'dev' ? await prepareDevMode(loaded.settings) : undefined;
  const config = dev ? dev.config : loaded.mode === 'file' ? loaded.config : undefined;
  if (!config) throw new Error('unreachable: no config');
  const settings = dev ? dev.settings : loaded.settings;

  const metrics = new GatewayMetrics();
  const gateway = await startGateway({ config, settings, log, metrics, extraModules: dev ? [dev.module] : [] });
  log.info({ url: gateway.url, mode: loaded.mode, routes: config.routes.length }, 'gateway listening');
  if (dev) {
    log.warn('DEV MODE: embedded issuer active; never run this in production');
    // The banner is for the person at the terminal: stderr, apart from the JSON log lines on stdout.
    process.stderr.write(`${dev.banner()}\n`);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // The config serving now: a reload may have changed the shutdown timings.
    const { shutdown } = gateway.config;
    log.info({ signal, ...shutdown }, 'shutting down');
    gateway
      .shutdown(shutdown.delaySeconds * 1000, shutdown.drainSeconds * 1000)
      .then(() => dev?.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ error: (error as Error).name }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // CONTRACT "Signals": SIGHUP reloads the config file and never ends the process (Node's default would).
  process.off('SIGHUP', ignoreEarlyHangup);
  process.on('SIGHUP', () => {
    if (stopping) return;
    if (loaded.mode !== 'file') {
      log.warn('SIGHUP ignored: dev mode has no config file to reload');
      return;
    }
    reloadConfig(gateway, log, metrics).catch((error: unknown) => {
      log.error({ err: error }, 'config reload failed: the running config keeps serving');
    });
  });
}

/** Reads and validates the config file again; a file that fails keeps the running config serving. */
async function reloadConfig(gateway: RunningGateway, log: Logger, metrics: GatewayMetrics): Promise<void> {
  let next;
  try {
    next = loadConfig({ env: process.env, readFile: (path) => readFileSync(path, 'utf8'), fileExists: existsSync });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.issues) log.error({ problem }, 'config reload refused: invalid config');
    metrics.configReloads.inc({ outcome: 'refused' });
    return;
  }
  if (next.mode !== 'file') {
    log.error('config reload refused: the config file is gone');
    metrics.configReloads.inc({ outcome: 'refused' });
    return;
  }
  // Only the file is reloaded: environment settings (PORT, REDIS_URL, LOG_LEVEL…) need a restart.
  try {
    await gateway.reload(next.config);
    metrics.configReloads.inc({ outcome: 'applied' });
    log.info({ path: next.path, routes: next.config.routes.length, issuers: next.config.auth.issuers.length }, 'config reloaded');
  } catch (error) {
    metrics.configReloads.inc({ outcome: 'refused' });
    // `err` goes through safeError: our own refusal keeps its text, a library's message never reaches the log.
    log.error({ err: error }, 'config reload refused: the running config keeps serving');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
