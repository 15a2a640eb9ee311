/*
 * A value from outside as an error message shows it: numbers and strings as
 * they are (long strings cut), anything else by its type. Never throws and
 * never prints "[object Object]": JSON.stringify throws on a BigInt (what
 * cbor-x gives for a 64-bit integer) and on a cycle.
 */
export function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean" || value == null) return String(value);
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "a byte string";
  return `a ${typeof value === "object" ? (value.constructor?.name ?? "tagged value") : typeof value}`;
}
