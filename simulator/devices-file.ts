/*
 * `xsedge sim --devices-file`: the ids and secrets of devices registered
 * elsewhere (an Akka cloud's RegistrationService, an operator's list), one
 * device per line as `<sensorId> <secret>`; blank lines and `#` comments are
 * skipped. Ids stay text: the Akka sample's numeric ids ("1", "0042") are
 * ids, not numbers. Pure: the caller reads the file.
 */
import { SENSOR_ID_PATTERN } from "../modules/observation/record.js";

/** The gateway's secrets (and the device's `secret` setting) are 8 to 128 characters. */
const MIN_SECRET_LENGTH = 8;
const MAX_SECRET_LENGTH = 128;
/** More devices than the simulator runs at once (its --devices limit) is a mistake in the file. */
export const MAX_FILE_DEVICES = 1000;

export interface DeviceCredentials {
  sensorId: string;
  secret: string;
}

export type DevicesFileResult = { ok: true; devices: DeviceCredentials[] } | { ok: false; errors: string[] };

export function parseDevicesFile(name: string, text: string): DevicesFileResult {
  const devices: DeviceCredentials[] = [];
  const errors: string[] = [];
  const seen = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const at = `${name}:${i + 1}`;
    const match = /^(\S+)\s+(.+)$/.exec(line);
    if (!match) return void errors.push(`${at}: expected "<sensorId> <secret>", got one word`);
    const [, sensorId, secret] = match;
    // The secret's text is never echoed: it may be a real one with a typo.
    if (!SENSOR_ID_PATTERN.test(sensorId)) return void errors.push(`${at}: sensor id ${JSON.stringify(sensorId.slice(0, 80))} must be 1 to 64 letters, digits or . _ : -`);
    if (secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) {
      return void errors.push(`${at}: the secret of ${sensorId} must be ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} characters, it has ${secret.length}`);
    }
    const earlier = seen.get(sensorId);
    if (earlier !== undefined) return void errors.push(`${at}: ${sensorId} is already on line ${earlier}`);
    seen.set(sensorId, i + 1);
    devices.push({ sensorId, secret });
  });
  if (errors.length === 0 && devices.length === 0) errors.push(`${name}: no devices (one "<sensorId> <secret>" per line)`);
  if (devices.length > MAX_FILE_DEVICES) errors.push(`${name}: ${devices.length} devices, at most ${MAX_FILE_DEVICES}`);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, devices };
}
