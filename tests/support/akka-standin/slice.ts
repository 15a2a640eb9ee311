/*
 * Akka's slice of a persistence id: abs(javaStringHashCode(pid) % 1024).
 * Java's String.hashCode runs over UTF-16 code units with 32-bit overflow,
 * which is what JavaScript strings and Math.imul give us directly.
 */

/** Akka's fixed number of slices; a consumer asks for a range of them. */
export const SLICE_COUNT = 1024;

export function javaStringHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0;
  return hash;
}

/** Like Java, `%` keeps the dividend's sign, hence abs after it (not before: abs(MIN_VALUE) overflows in Java). */
export function sliceOf(persistenceId: string): number {
  return Math.abs(javaStringHashCode(persistenceId) % SLICE_COUNT);
}

/** "Registration|7" → "7": an entity id may itself contain "|", the type may not. */
export function entityIdOf(persistenceId: string): string {
  const bar = persistenceId.indexOf("|");
  return bar < 0 ? persistenceId : persistenceId.slice(bar + 1);
}
