/*
 * Moddable's `preference` module for the simulated device, kept by the host
 * in a file per device so values survive a simulated reboot as they survive a
 * power cycle in a board's NVS partition.
 */
import { FrameReader, PrefType, Request, Status, fromUtf8, utf8 } from "./protocol.js";
import { frame, request } from "./bridge.js";

type Value = string | boolean | number | ArrayBuffer;

/** Moddable's limits on ESP32 NVS: keys and domains up to 15 bytes; values bounded. */
const MAX_NAME_LENGTH = 15;
const MAX_VALUE_BYTES = 4000;

function name(domain: string, key: string): Uint8Array {
  if (!domain || domain.length > MAX_NAME_LENGTH || domain.includes("\0")) throw new RangeError(`invalid preference domain "${domain}"`);
  if (!key || key.length > MAX_NAME_LENGTH || key.includes("\0")) throw new RangeError(`invalid preference key "${key}"`);
  return utf8(`${domain}\0${key}`);
}

function decode(reply: FrameReader): Value {
  const type = reply.u8();
  const data = reply.tail();
  switch (type) {
    case PrefType.BOOLEAN: return data[0] !== 0;
    case PrefType.INTEGER: return new DataView(data.buffer, data.byteOffset, 4).getInt32(0, true);
    case PrefType.STRING: return fromUtf8(data);
    case PrefType.BUFFER: return data.slice().buffer;
    default: throw new Error(`preference: unknown stored type ${type}`);
  }
}

const Preference = {
  get(domain: string, key: string): Value | undefined {
    const { status, reply } = request(frame(Request.PREF_GET).tail(name(domain, key)), [Status.OK, Status.MISSING]);
    return status === Status.MISSING ? undefined : decode(reply);
  },

  set(domain: string, key: string, value: Value): void {
    const named = name(domain, key);
    const out = frame(Request.PREF_SET).u16(named.byteLength).tail(named);
    if (typeof value === "boolean") out.u8(PrefType.BOOLEAN).u8(value ? 1 : 0);
    else if (typeof value === "number") {
      // Moddable stores integers only; a fraction would be silently truncated on a board.
      if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) throw new RangeError(`preference ${key}: ${value} is not a 32-bit integer`);
      out.u8(PrefType.INTEGER).u32(value >>> 0);
    } else if (typeof value === "string") {
      const bytes = utf8(value);
      if (bytes.byteLength > MAX_VALUE_BYTES) throw new RangeError(`preference ${key}: value too long`);
      out.u8(PrefType.STRING).tail(bytes);
    } else if (value instanceof ArrayBuffer) {
      if (value.byteLength > MAX_VALUE_BYTES) throw new RangeError(`preference ${key}: value too long`);
      out.u8(PrefType.BUFFER).tail(new Uint8Array(value));
    } else throw new TypeError(`preference ${key}: unsupported value type`);
    request(out);
  },

  delete(domain: string, key: string): void {
    request(frame(Request.PREF_DELETE).tail(name(domain, key)), [Status.OK, Status.MISSING]);
  },

  keys(domain: string): string[] {
    const { reply } = request(frame(Request.PREF_KEYS).tail(utf8(domain)));
    const text = fromUtf8(reply.tail());
    return text ? text.split("\0") : [];
  },
};

export default Preference;
