/*
 * Persistence ids ("<EntityType>|<entityId>"), their slices, and seq_nr
 * parsing. Entity ids are any string: the Akka Edge sample assumes numeric
 * ids and crashes on others; we never parse them.
 */
import type { Int64 } from "./messages.js";

/** Akka's fixed number of slices: slice = abs(javaHashCode(pid) % 1024). */
export const SLICE_COUNT = 1024;
export const ENTITY_TYPE_SEPARATOR = "|";

/** Java's String.hashCode: over UTF-16 code units, with 32-bit overflow. */
export function javaStringHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0;
  return hash;
}

export function sliceOf(persistenceId: string): number {
  return Math.abs(javaStringHashCode(persistenceId) % SLICE_COUNT);
}

export function persistenceIdOf(entityType: string, entityId: string): string {
  return entityType + ENTITY_TYPE_SEPARATOR + entityId;
}

export class PersistenceIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PersistenceIdError";
  }
}

/** Splits at the first "|": the entity id may itself contain "|". */
export function parsePersistenceId(persistenceId: string): { entityType: string; entityId: string } {
  const at = persistenceId.indexOf(ENTITY_TYPE_SEPARATOR);
  if (at <= 0 || at === persistenceId.length - 1) {
    throw new PersistenceIdError(`persistence id "${persistenceId}" is not "<EntityType>|<entityId>"`);
  }
  return { entityType: persistenceId.slice(0, at), entityId: persistenceId.slice(at + 1) };
}

/** A seq_nr as received (int64 as a decimal string): >= 1 and exact as a JS number, else PersistenceIdError. */
export function parseSeqNr(raw: Int64 | number, persistenceId: string): number {
  const value = typeof raw === "number" ? raw : /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < 1) throw new PersistenceIdError(`seq_nr of ${persistenceId} must be an integer from 1 to 2^53-1, got ${raw}`);
  return value;
}
