/*
 * Settings the gateway may change on a running device: the app's own
 * (declared with app.setting) and the runtime's REMOTE_KEYS. Each has a type
 * and bounds; its value comes from the device's preferences (where a
 * downlink leaves it, so it survives a reboot), else the manifest's config,
 * else its default, and is checked at boot exactly as a downlink's value is
 * checked before it is applied. A set of changes is applied whole or not at
 * all, so a device never runs with half of what an operator asked for.
 */
import { SettingsError } from "./settings.js";
import type { SettingValue } from "../downlink/messages.js";
import { NAME_PATTERN, MAX_TEXT_BYTES, utf8Bytes } from "../downlink/messages.js";

export type { SettingValue };

/** Where the app's settings live in the preferences (Moddable allows 15 characters). */
export const APP_DOMAIN = "xsedge-app";
/** Settings an app may declare: each costs a preference key and a line in every describe. */
export const MAX_APP_SETTINGS = 16;

interface Common<T> {
  /** The value before anyone set one: what the app does out of the box. */
  default: T;
  /** False: only the manifest or provisioning may set it (a part's address, which cannot change while running). Default true. */
  remote?: boolean;
  /** Called after a downlink changed the value (the new one is already in `value`). */
  onChange?: (value: T) => void;
}
export interface IntegerSpec extends Common<number> { type: "integer"; min: number; max: number }
export interface NumberSpec extends Common<number> { type: "number"; min: number; max: number }
export interface TextSpec extends Common<string> { type: "text"; oneOf?: readonly string[]; maxLength?: number }
export interface BooleanSpec extends Common<boolean> { type: "boolean" }
export type SettingSpec = IntegerSpec | NumberSpec | TextSpec | BooleanSpec;

/** A declared setting; `value` is always valid for its spec. */
export interface Setting<T extends SettingValue = SettingValue> {
  readonly name: string;
  readonly value: T;
}

export interface SettingsStore {
  get(domain: string, key: string): unknown;
  set(domain: string, key: string, value: number | string | boolean): void;
}

interface Entry {
  name: string;
  spec: SettingSpec;
  domain: string;
  value: SettingValue;
  /** Listeners beside the spec's own: the runtime reschedules a sensor when its period changes. */
  listeners: Array<(value: SettingValue) => void>;
}

/** Preferences hold signed 32-bit integers; anything else is kept as text. */
const INT32_MAX = 0x7fffffff;

/** The value `raw` stands for under `spec`, or a SettingsError naming `name` and `where`. */
export function coerce(spec: SettingSpec, raw: unknown, name: string, where: string): SettingValue {
  const fail = (message: string): never => {
    throw new SettingsError(name, where, `${message}, got ${JSON.stringify(raw)}`);
  };
  switch (spec.type) {
    case "integer":
    case "number": {
      const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
      const kind = spec.type === "integer" ? "an integer" : "a number";
      if (typeof n !== "number" || !Number.isFinite(n) || (spec.type === "integer" && !Number.isInteger(n)) || n < spec.min || n > spec.max) {
        return fail(`must be ${kind} from ${spec.min} to ${spec.max}`);
      }
      return n;
    }
    case "boolean":
      if (raw === true || raw === 1 || raw === "true") return true;
      if (raw === false || raw === 0 || raw === "false") return false;
      return fail("must be true or false");
    case "text": {
      // A number is text too when the setting is text: an operator typing `name=7` means "7".
      const text = typeof raw === "number" && Number.isFinite(raw) ? String(raw) : raw;
      if (typeof text !== "string") return fail("must be text");
      if (spec.oneOf && !spec.oneOf.includes(text)) return fail(`must be one of ${spec.oneOf.join(", ")}`);
      if (utf8Bytes(text) > Math.min(spec.maxLength ?? MAX_TEXT_BYTES, MAX_TEXT_BYTES)) return fail(`must be at most ${Math.min(spec.maxLength ?? MAX_TEXT_BYTES, MAX_TEXT_BYTES)} bytes`);
      return text;
    }
  }
}

function checkSpec(name: string, spec: SettingSpec): void {
  if (!NAME_PATTERN.test(name)) throw new RangeError(`setting ${JSON.stringify(name)}: names are 1 to 15 letters, digits or _ starting with a letter`);
  if ((spec.type === "integer" || spec.type === "number") && !(spec.min <= spec.max)) throw new RangeError(`setting ${name}: min must not exceed max`);
  // The default must itself be valid, or the device would boot into a value it would refuse from a downlink.
  coerce(spec, spec.default, name, `default of setting ${name}`);
}

export class SettingsRegistry {
  readonly #store: SettingsStore;
  readonly #config: Record<string, unknown>;
  readonly #entries: Entry[] = [];
  #appSettings = 0;

  constructor(store: SettingsStore, config: Record<string, unknown>) {
    this.#store = store;
    this.#config = config;
  }

  /**
   * Declares a setting kept in preference `domain` and returns it with its
   * value read and checked; a bad value throws SettingsError naming its source.
   */
  declare(name: string, spec: SettingSpec, domain = APP_DOMAIN): Setting {
    if (this.#find(name)) throw new RangeError(`setting ${name} is declared twice`);
    checkSpec(name, spec);
    if (domain === APP_DOMAIN && ++this.#appSettings > MAX_APP_SETTINGS) throw new RangeError(`an app may declare at most ${MAX_APP_SETTINGS} settings`);
    const stored = this.#store.get(domain, name);
    const configured = this.#config[name];
    const value = stored !== undefined ? coerce(spec, stored, name, `preference ${domain}/${name}`)
      : configured !== undefined ? coerce(spec, configured, name, `config ${name}`)
      : coerce(spec, spec.default, name, `default of setting ${name}`);
    const entry: Entry = { name, spec, domain, value, listeners: [] };
    this.#entries.push(entry);
    return {
      name,
      get value() {
        return entry.value;
      },
    };
  }

  has(name: string): boolean {
    return this.#find(name) !== undefined;
  }

  /** Called after each change of `name` (the runtime's own hooks; the app uses its spec's onChange). */
  listen(name: string, listener: (value: SettingValue) => void): void {
    this.#find(name)?.listeners.push(listener);
  }

  /** The values a set of changes stands for, or why it cannot be applied (the first bad key, named). */
  check(changes: ReadonlyArray<readonly [string, unknown]>): { values: SettingValue[] } | { problem: string } {
    const values: SettingValue[] = [];
    for (const [name, raw] of changes) {
      const entry = this.#find(name);
      if (!entry) return { problem: `${name}: no such setting` };
      if (entry.spec.remote === false) return { problem: `${name}: can only be set in the manifest or by provisioning` };
      try {
        values.push(coerce(entry.spec, raw, name, name));
      } catch (e) {
        return { problem: (e as Error).message };
      }
    }
    return { values };
  }

  /**
   * Applies checked changes: persisted first (so a reboot keeps them), then
   * in effect, then announced. Returns the listeners' failures, if any: a
   * listener that throws does not undo the change, but the report says so.
   */
  apply(changes: ReadonlyArray<readonly [string, unknown]>, values: readonly SettingValue[]): string[] {
    const entries = changes.map(([name]) => this.#find(name) as Entry);
    entries.forEach((entry, i) => {
      const value = values[i];
      const persisted = typeof value === "number" && (!Number.isInteger(value) || Math.abs(value) > INT32_MAX) ? String(value) : value;
      this.#store.set(entry.domain, entry.name, persisted);
    });
    const failures: string[] = [];
    entries.forEach((entry, i) => {
      if (entry.value === values[i]) return;
      entry.value = values[i];
      const call = (listener: ((value: never) => void) | undefined) => {
        try {
          listener?.(values[i] as never);
        } catch (e) {
          failures.push(`${entry.name}: ${(e as Error)?.message ?? String(e)}`);
        }
      };
      for (const listener of entry.listeners) call(listener);
      call(entry.spec.onChange);
    });
    return failures;
  }

  #find(name: string): Entry | undefined {
    for (const entry of this.#entries) if (entry.name === name) return entry;
    return undefined;
  }
}
