/*
 * Defaults, then the file, then the environment, then flags: each layer's
 * settings are checked (all of them, so every mistake is reported at once,
 * even one a later layer overrides), the last one wins, and the rules that
 * span keys are checked on the result.
 */
import { didYouMean } from "../../config-text/did-you-mean.js";
import { printable } from "../../config-text/printable.js";
import { crossKeyErrors } from "./rules.js";
import { CONFIG_FILE_ENV, CONFIG_SCHEMA, ENV_PREFIX, envName, KEY_BY_PATH, OFF } from "./schema.js";
import { keyError, type Setting, type Source } from "./source.js";
import { checkValue } from "./value-kinds.js";
import { readConfigText } from "./config-file.js";

export interface ResolvedConfig {
  /** Key path → checked value (null = turned off); unset keys are absent. */
  readonly values: ReadonlyMap<string, unknown>;
  readonly sources: ReadonlyMap<string, Source>;
}

export interface ConfigInput {
  file?: { name: string; text: string };
  env?: Readonly<Record<string, string | undefined>>;
  /** Key path → the flag's text and the flag as typed (see flagSettings in the CLI). */
  flags?: readonly Setting[];
}

export type ConfigResult = { ok: true; config: ResolvedConfig } | { ok: false; errors: string[] };

const ENV_NAMES = new Map(CONFIG_SCHEMA.map((key) => [envName(key), key]));

/** The environment's settings; an XSEDGE_GATEWAY_ variable that names no key is an error (a typo would otherwise be ignored). */
export function envSettings(env: Readonly<Record<string, string | undefined>>): { settings: Setting[]; errors: string[] } {
  const settings: Setting[] = [];
  const errors: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || name === CONFIG_FILE_ENV) continue;
    const key = ENV_NAMES.get(name);
    if (key === undefined) {
      errors.push(`${name}: no such setting${didYouMean(name, [...ENV_NAMES.keys(), CONFIG_FILE_ENV])}`);
      continue;
    }
    // systemd's `Environment=NAME=` and shells' `NAME=` mean "not set".
    if (value === undefined || value === "") continue;
    settings.push({ path: key.path, value, source: { kind: "env", name } });
  }
  return { settings, errors };
}

export function resolveConfig(input: ConfigInput): ConfigResult {
  const errors: string[] = [];
  const values = new Map<string, unknown>();
  const sources = new Map<string, Source>();

  function apply(setting: Setting): void {
    const key = KEY_BY_PATH.get(setting.path);
    if (key === undefined) throw new Error(`bug: setting for unknown key ${setting.path}`);
    const fromText = setting.source.kind === "env" || setting.source.kind === "flag";
    let value: unknown;
    if (key.nullable && (setting.value === null || (fromText && setting.value === OFF))) {
      value = null;
    } else {
      const checked = checkValue(key.kind, setting.value, fromText);
      if (!checked.ok) {
        errors.push(keyError(key.path, setting.source, key.secret ? checked.problem.replace(/, got .*$/, ", got (redacted)") : checked.problem));
        return;
      }
      value = checked.value;
    }
    values.set(key.path, value);
    sources.set(key.path, setting.source);
  }

  for (const key of CONFIG_SCHEMA) {
    if (key.default !== undefined) apply({ path: key.path, value: key.default, source: { kind: "default" } });
  }
  if (input.file) {
    const file = readConfigText(input.file.name, input.file.text);
    errors.push(...file.errors);
    file.settings.forEach(apply);
  }
  const env = envSettings(input.env ?? {});
  errors.push(...env.errors);
  env.settings.forEach(apply);
  (input.flags ?? []).forEach(apply);

  const config: ResolvedConfig = { values, sources };
  // A bad value was not applied, so the rules see the layer below it (or nothing) and do not repeat its error.
  errors.push(...crossKeyErrors(config));
  // Errors quote what the user wrote; whatever a message quotes, it prints as one safe line.
  return errors.length > 0 ? { ok: false, errors: errors.map(printable) } : { ok: true, config };
}
