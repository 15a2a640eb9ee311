/*
 * The device's settings, from mc/config (the manifest's "config", or the
 * simulator's per-device values), validated at boot: a bad value stops the
 * app with an error naming the key, instead of a device that misbehaves later.
 */
export interface DeviceSettings {
  sensorId: string;
  gatewayAddress: string;
  gatewayPort: number;
  samplePeriodMs: number;
  sensorAddress: number;
  mqttUsername: string | undefined;
  mqttPassword: string | undefined;
  keepAliveSeconds: number;
  /** Encoded records held in RAM while the gateway is unreachable. */
  queueCapacity: number;
}

export class SettingsError extends RangeError {
  readonly key: string;
  constructor(key: string, message: string) {
    super(`config ${key}: ${message}`);
    this.name = "SettingsError";
    this.key = key;
  }
}

const SENSOR_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** Faster than this floods the gateway for no benefit: the sensors convert at most ~64 Hz. */
const MIN_SAMPLE_PERIOD_MS = 10;
const MAX_SAMPLE_PERIOD_MS = 24 * 60 * 60 * 1000;
const MAX_QUEUE_CAPACITY = 1024;

function integer(config: Record<string, unknown>, key: string, fallback: number, min: number, max: number): number {
  const raw = config[key] ?? fallback;
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new SettingsError(key, `must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function optionalString(config: Record<string, unknown>, key: string): string | undefined {
  const value = config[key];
  if (value === undefined || value === "") return undefined;
  if (typeof value !== "string") throw new SettingsError(key, "must be a string");
  return value;
}

export function readSettings(config: Record<string, unknown>): DeviceSettings {
  const sensorId = config.sensorId;
  if (typeof sensorId !== "string" || !SENSOR_ID.test(sensorId)) {
    throw new SettingsError("sensorId", "must be 1 to 64 letters, digits or . _ : -");
  }
  const gatewayAddress = config.gatewayAddress;
  if (typeof gatewayAddress !== "string" || !IPV4.test(gatewayAddress)) {
    throw new SettingsError("gatewayAddress", `must be an IPv4 address, got ${JSON.stringify(gatewayAddress)}`);
  }
  return {
    sensorId,
    gatewayAddress,
    gatewayPort: integer(config, "gatewayPort", 1883, 1, 65535),
    samplePeriodMs: integer(config, "samplePeriodMs", 1000, MIN_SAMPLE_PERIOD_MS, MAX_SAMPLE_PERIOD_MS),
    sensorAddress: integer(config, "sensorAddress", 0x48, 0x08, 0x77),
    mqttUsername: optionalString(config, "mqttUsername"),
    mqttPassword: optionalString(config, "mqttPassword"),
    keepAliveSeconds: integer(config, "keepAliveSeconds", 30, 5, 3600),
    queueCapacity: integer(config, "queueCapacity", 64, 1, MAX_QUEUE_CAPACITY),
  };
}
