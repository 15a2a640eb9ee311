/**
 * Text from a file the user wrote, made safe to print in an error: control
 * characters (a NUL, an escape that would recolour or move the terminal's
 * cursor, a newline that would split one error into two lines) and the
 * Unicode line separators are written as `\uXXXX`, the way JSON would show
 * them (JSON.stringify alone leaves U+007F–U+009F and U+2028/9 raw).
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A name as an error shows it: as it is, or quoted when it holds anything `printable` would change. */
export function printableName(name: string): string {
  return name.search(UNPRINTABLE) < 0 ? name : `"${printable(name)}"`;
}
