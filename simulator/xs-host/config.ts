/*
 * `mc/config` of the simulated device. On a board mcconfig compiles the
 * manifest's "config" into this module; here the host sends it at boot, and it
 * is filled in before the app's main() runs.
 */
const config: Record<string, unknown> = {};

export function applyConfig(values: Record<string, unknown>): void {
  Object.assign(config, values);
  Object.freeze(config);
}

export default config;
