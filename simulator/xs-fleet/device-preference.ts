/*
 * Moddable's `preference` module for one simulated device of a fleet: the
 * host keeps the values in a file per device, so they survive a reboot as
 * they survive a power cycle in a board's NVS partition. They come with the
 * device's boot and the device reads its own copy; each change goes to the
 * host as an output record of the step, in order. Same limits as
 * ../xs-host/preference.ts.
 */
import { utf8 } from "../xs-host/protocol.js";
import { checkPowered, type BoardContext } from "./board-context.js";
import { Output } from "./fleet-protocol.js";
import { flushOutputIfFull, output } from "./host-link.js";

type Value = string | boolean | number | ArrayBuffer;

/** Moddable's limits on ESP32 NVS: keys and domains up to 15 bytes; values bounded. */
const MAX_NAME_LENGTH = 15;
const MAX_VALUE_BYTES = 4000;
/** Keys a device may hold: NVS partitions are small, and a runaway app must not grow the host's file without end. */
export const MAX_PREFERENCES = 256;

function check(domain: string, key: string): string {
  if (!domain || domain.length > MAX_NAME_LENGTH || domain.includes("\0") || domain.includes("/")) throw new RangeError(`invalid preference domain "${domain}"`);
  if (!key || key.length > MAX_NAME_LENGTH || key.includes("\0")) throw new RangeError(`invalid preference key "${key}"`);
  return `${domain}/${key}`;
}

export interface PreferenceModule {
  get(domain: string, key: string): Value | undefined;
  set(domain: string, key: string, value: Value): void;
  delete(domain: string, key: string): void;
  keys(domain: string): string[];
}

/** `stored`: the host's values at boot, as [domain, key, value] with a buffer as an array of bytes. */
export function devicePreference(board: BoardContext, stored: ReadonlyArray<readonly [string, string, unknown]>): PreferenceModule {
  const values = new Map<string, Value>();
  for (const [domain, key, value] of stored) values.set(`${domain}/${key}`, Array.isArray(value) ? Uint8Array.from(value as number[]).buffer : (value as Value));
  const loaded = (): Map<string, Value> => {
    checkPowered(board);
    return values;
  };
  const record = (domain: string, key: string, value: unknown) => {
    output.record(Output.PREFERENCE, board.index, board.clock.now()).text(JSON.stringify([domain, key, value]));
    flushOutputIfFull();
  };
  return Object.freeze({
    get(domain: string, key: string): Value | undefined {
      const value = loaded().get(check(domain, key));
      return value instanceof ArrayBuffer ? value.slice(0) : value;
    },
    set(domain: string, key: string, value: Value): void {
      const name = check(domain, key);
      const map = loaded();
      let stored: unknown = value;
      if (typeof value === "number") {
        // Moddable stores integers only; a fraction would be silently truncated on a board.
        if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) throw new RangeError(`preference ${key}: ${value} is not a 32-bit integer`);
      } else if (typeof value === "string") {
        if (utf8(value).byteLength > MAX_VALUE_BYTES) throw new RangeError(`preference ${key}: value too long`);
      } else if (value instanceof ArrayBuffer) {
        if (value.byteLength > MAX_VALUE_BYTES) throw new RangeError(`preference ${key}: value too long`);
        stored = Array.from(new Uint8Array(value));
      } else if (typeof value !== "boolean") throw new TypeError(`preference ${key}: unsupported value type`);
      if (!map.has(name) && map.size >= MAX_PREFERENCES) throw new RangeError(`preference ${key}: no room (limit ${MAX_PREFERENCES} keys)`);
      map.set(name, value instanceof ArrayBuffer ? value.slice(0) : value);
      record(domain, key, stored);
    },
    delete(domain: string, key: string): void {
      if (loaded().delete(check(domain, key))) record(domain, key, null);
    },
    keys(domain: string): string[] {
      const prefix = `${domain}/`;
      return [...loaded().keys()].filter((name) => name.startsWith(prefix)).map((name) => name.slice(prefix.length));
    },
  });
}
