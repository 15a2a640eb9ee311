/*
 * The runtime's own settings: defaults from the manifest's "config"
 * (mc/config), overridden by what was provisioned into the device's
 * preferences (domain PROVISIONING_DOMAIN), so one firmware image serves a
 * fleet. Every value is validated at boot: a bad one stops the app with an
 * error naming the key and where it came from, instead of a device that
 * misbehaves later. The app's own settings are declared by the app
 * (app-settings.ts) and checked the same way.
 */
export type LogPolicy = "drop-oldest" | "refuse-newest";

export interface DeviceSettings {
  sensorId: string;
  /** MQTT password the gateway checks for this sensor id; empty when the gateway does not authenticate. */
  secret: string;
  gatewayAddress: string;
  gatewayPort: number;
  /** Sampling period of a sensor that names none of its own. */
  samplePeriodMs: number;
  /** I2C pins, for a host provider that names no default bus (the plain esp32 one). */
  i2cData: number | undefined;
  i2cClock: number | undefined;
  keepAliveSeconds: number;
  logPolicy: LogPolicy;
  flashPartition: string;
  /**
   * Longest an observation waits in RAM for its batch to fill before the
   * batch is written to flash and sent: the latency, and what a power cut can
   * lose, traded against flash wear (modules/SPEC.md). 0: every sample alone.
   */
  batchMaxAgeMs: number;
  /** Trace every sample (a debugging aid: it costs a string per sample). */
  traceSamples: boolean;
}

/** Preference domain of provisioned settings (Moddable allows 15 characters). */
export const PROVISIONING_DOMAIN = "xsedge-config";
/**
 * Settings a device may carry in its preferences; keys fit Moddable's
 * 15-character limit. The last three can also be changed by the gateway
 * (REMOTE_KEYS), which writes them here.
 */
export const PROVISIONED_KEYS = ["sensorId", "secret", "gatewayAddress", "gatewayPort", "samplePeriodMs", "logPolicy", "batchMaxAgeMs", "traceSamples"] as const;
/**
 * What the gateway may change while the device runs. Where to connect and
 * who to be are not among them: a wrong value sent from afar would cut the
 * device off for good.
 */
export const REMOTE_KEYS = ["samplePeriodMs", "batchMaxAgeMs", "traceSamples"] as const;

export class SettingsError extends RangeError {
  // Defined, not assigned: on a board Error.prototype is frozen, and assigning over its name throws.
  override readonly name = "SettingsError";
  readonly key: string;
  /** `where` names the setting and its source: "config gatewayPort", "preference xsedge-config/gatewayPort". */
  constructor(key: string, where: string, message: string) {
    super(`${where}: ${message}`);
    this.key = key;
  }
}

export interface PreferenceReader {
  get(domain: string, key: string): unknown;
}

const SENSOR_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** Faster than this floods the gateway for no benefit: the parts convert at most ~64 Hz. */
export const MIN_SAMPLE_PERIOD_MS = 10;
export const MAX_SAMPLE_PERIOD_MS = 24 * 60 * 60 * 1000;
/** The gateway's secrets are 8 to 128 characters. */
const MIN_SECRET_LENGTH = 8;
const MAX_SECRET_LENGTH = 128;
const POLICIES: readonly LogPolicy[] = ["drop-oldest", "refuse-newest"];

export function readSettings(config: Record<string, unknown>, preferences?: PreferenceReader): DeviceSettings {
  const provisioned = new Set<string>(PROVISIONED_KEYS);
  function lookup(key: string): { value: unknown; source: string } {
    if (preferences && provisioned.has(key)) {
      const value = preferences.get(PROVISIONING_DOMAIN, key);
      if (value !== undefined) return { value, source: `preference ${PROVISIONING_DOMAIN}/${key}` };
    }
    return { value: config[key], source: `config ${key}` };
  }
  function integer(key: string, fallback: number | undefined, min: number, max: number): number | undefined {
    const { value, source } = lookup(key);
    if (value === undefined || value === "") return fallback;
    const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      throw new SettingsError(key, source, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return n;
  }
  function text(key: string, fallback: string, check: (value: string) => boolean, expected: string): string {
    const { value, source } = lookup(key);
    if (value === undefined) return fallback;
    if (typeof value !== "string" || !check(value)) throw new SettingsError(key, source, `${expected}, got ${JSON.stringify(value)}`);
    return value;
  }
  function flag(key: string): boolean {
    const { value, source } = lookup(key);
    if (value === undefined || value === false || value === 0 || value === "false") return false;
    if (value === true || value === 1 || value === "true") return true;
    throw new SettingsError(key, source, `must be true or false, got ${JSON.stringify(value)}`);
  }
  const required = (key: string) => {
    if (lookup(key).value === undefined) throw new SettingsError(key, `config ${key}`, "is required");
    return key;
  };

  return {
    sensorId: text(required("sensorId"), "", (v) => SENSOR_ID.test(v), "must be 1 to 64 letters, digits or . _ : -"),
    secret: text("secret", "", (v) => v.length === 0 || (v.length >= MIN_SECRET_LENGTH && v.length <= MAX_SECRET_LENGTH), `must be ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} characters`),
    gatewayAddress: text(required("gatewayAddress"), "", (v) => IPV4.test(v), "must be an IPv4 address"),
    gatewayPort: integer("gatewayPort", 1883, 1, 65535)!,
    samplePeriodMs: integer("samplePeriodMs", 1000, MIN_SAMPLE_PERIOD_MS, MAX_SAMPLE_PERIOD_MS)!,
    i2cData: integer("i2cData", undefined, 0, 255),
    i2cClock: integer("i2cClock", undefined, 0, 255),
    keepAliveSeconds: integer("keepAliveSeconds", 30, 5, 3600)!,
    logPolicy: text("logPolicy", "drop-oldest", (v) => POLICIES.includes(v as LogPolicy), `must be one of ${POLICIES.join(", ")}`) as LogPolicy,
    flashPartition: text("flashPartition", "xsedge", (v) => v.length > 0 && v.length <= 16, "must name a flash partition"),
    batchMaxAgeMs: integer("batchMaxAgeMs", 10_000, 0, MAX_SAMPLE_PERIOD_MS)!,
    traceSamples: flag("traceSamples"),
  };
}
