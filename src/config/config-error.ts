/**
 * A config that cannot start the gateway: every problem found, one
 * `path: reason` line each. main.ts prints `message` and exits non-zero
 * before listening.
 *
 * @example
 * new ConfigError(['routes[0].timeoutMs: must be an integer 1..300000']).message;
 * // 'invalid gateway configuration:\n  routes[0].timeoutMs: must be an integer 1..300000'
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`invalid gateway configuration:\n  ${issues.join('\n  ')}`);
    this.issues = Object.freeze([...issues]);
  }
}
