import 'reflect-metadata';
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from './config/load-config.js';
import { prepareDevMode } from './dev-mode/dev-mode.js';
import { startGateway } from './gateway.js';
import { createLogger } from './observability/logger.js';

/** Bootstrap only: config → gateway → listen → shutdown hooks. */
async function main(): Promise<void> {
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

  const gateway = await startGateway({ config, settings, log, extraModules: dev ? [dev.module] : [] });
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
    log.info({ signal, ...config.shutdown }, 'shutting down');
    gateway
      .shutdown(config.shutdown.delaySeconds * 1000, config.shutdown.drainSeconds * 1000)
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
}

main().catch((error: unknown) => {
  process.stderr.write(`gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
