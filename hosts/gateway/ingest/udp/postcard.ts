/*
 * The Akka Edge sample's UDP observation: a Postcard-encoded
 * `TemperatureUpdated { dev_addr: u32, temperature: u32 }`, each field an
 * unsigned LEB128 varint (7 bits a byte, least significant group first, high
 * bit set on every byte but the last), no framing: bytes 01 02 are device 1
 * at 2 °C. `temperature` is whole degrees Celsius, as in the sample; a u32
 * cannot say anything below 0 °C in this form.
 *
 * Stricter than Postcard's own `from_bytes`, which ignores trailing bytes:
 * a datagram is exactly one message, so anything after it means the sender
 * meant something else. Like Postcard, a non-minimal varint within five
 * bytes (80 00 for 0) is accepted: its value is unambiguous.
 */

/** ceil(32 / 7): a u32 needs at most five 7-bit groups. */
export const MAX_U32_VARINT_BYTES = 5;

/** Two u32 varints: the largest TemperatureUpdated. */
export const MAX_POSTCARD_BYTES = 2 * MAX_U32_VARINT_BYTES;

const U32_MAX = 0xffff_ffff;

export type PostcardField = "dev_addr" | "temperature" | "message";
export type PostcardProblem = "truncated" | "too-long" | "over-u32" | "trailing-bytes";

/** A datagram that is not a TemperatureUpdated; `field` and `problem` say why. */
export class PostcardError extends Error {
  readonly field: PostcardField;
  readonly problem: PostcardProblem;
  constructor(field: PostcardField, problem: PostcardProblem, message: string) {
    super(`postcard ${field}: ${message}`);
    this.name = "PostcardError";
    this.field = field;
    this.problem = problem;
  }
}

export interface TemperatureUpdated {
  devAddr: number;
  /** Whole degrees Celsius. */
  temperature: number;
}

function readU32(bytes: Uint8Array, at: number, field: PostcardField): { value: number; next: number } {
  let value = 0;
  for (let i = 0; i < MAX_U32_VARINT_BYTES; i++) {
    if (at + i >= bytes.byteLength) {
      throw new PostcardError(field, "truncated", i === 0 ? "missing" : `varint ends after ${i} byte(s) with the continuation bit set`);
    }
    const byte = bytes[at + i];
    // Multiplication, not <<: a shift by 28 would overflow JavaScript's 32-bit signed ints.
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (value > U32_MAX) throw new PostcardError(field, "over-u32", `varint value ${value} is over the u32 maximum ${U32_MAX}`);
      return { value, next: at + i + 1 };
    }
  }
  throw new PostcardError(field, "too-long", `varint longer than ${MAX_U32_VARINT_BYTES} bytes`);
}

/** Decodes one datagram as a TemperatureUpdated; throws PostcardError naming the field at fault. */
export function decodeTemperatureUpdated(bytes: Uint8Array): TemperatureUpdated {
  const devAddr = readU32(bytes, 0, "dev_addr");
  const temperature = readU32(bytes, devAddr.next, "temperature");
  const trailing = bytes.byteLength - temperature.next;
  if (trailing > 0) throw new PostcardError("message", "trailing-bytes", `${trailing} byte(s) after temperature`);
  return { devAddr: devAddr.value, temperature: temperature.value };
}

function writeU32(value: number, out: number[]): void {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) throw new RangeError(`${value} is not a u32`);
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

/** What the sample's simulator sends: minimal varints, nothing else. */
export function encodeTemperatureUpdated(message: TemperatureUpdated): Uint8Array {
  const out: number[] = [];
  writeU32(message.devAddr, out);
  writeU32(message.temperature, out);
  return Uint8Array.from(out);
}
