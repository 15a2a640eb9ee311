/*
 * A value from outside as an error message shows it: numbers and strings as
 * they are (long strings cut), anything else by its type. Never throws and
 * never prints "[object Object]": JSON.stringify throws on a BigInt (what
 * cbor-x gives for a 64-bit integer) and on a cycle.
 */

/** What `printable` writes as `\uXXXX`: C0 and C1 controls, DEL, and the Unicode line separators. */
export const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Text from outside made safe to print: control characters (a NUL, an
 * escape that would recolour or move a terminal's cursor, a newline that
 * would split one log line or error into two) and the Unicode line
 * separators are written as `\uXXXX`, the way JSON would show them
 * (JSON.stringify alone leaves U+007F–U+009F and U+2028/9 raw).
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function shown(value: unknown): string {
  if (typeof value === "string") return printable(JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value));
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean" || value == null) return String(value);
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "a byte string";
  return `a ${typeof value === "object" ? (value.constructor?.name ?? "tagged value") : typeof value}`;
}
