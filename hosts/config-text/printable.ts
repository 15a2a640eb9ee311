/**
 * Text from a file the user wrote, made safe to print in an error: the same
 * escaping as every other error about outside input (`printable`, beside
 * `shown` in modules/observation/shown-value.ts), so a NUL, a terminal
 * escape or a line break in a config or scenario file never reaches the
 * terminal raw.
 */
import { printable, UNPRINTABLE } from "../../modules/observation/shown-value.js";

export { printable };

/** A name as an error shows it: as it is, or quoted when it holds anything `printable` would change. */
export function printableName(name: string): string {
  return name.search(UNPRINTABLE) < 0 ? name : `"${printable(name)}"`;
}
