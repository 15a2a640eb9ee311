/*
 * The gateway's copy of the cloud's sensor registrations: a projection of
 * the registration stream into its own SQLite file, and the SensorRegistry
 * ingest asks.
 *
 * Each event is applied together with the stream offset in ONE transaction,
 * so after a crash the stored offset says exactly which events are in: on
 * restart the feed resumes after it, nothing is applied twice and nothing is
 * missed. Only SHA-256 digests of secrets are kept, on disk and in memory
 * (see ../ingest/sensor-registry.ts); a stolen registrations.db does not let anyone
 * connect as a device. An event may bring the digest itself, "sha256:<hex>"
 * (hosts/auth/secret-digest.ts), as the reference cloud's do: it is kept as is.
 *
 * Knows nothing of HTTP or gRPC: feed.ts (SSE) or
 * akka/consumer.ts (Akka Projection gRPC) brings the events;
 * the latter's position (per-pid seq_nr, offset) is stored here too, in the
 * transaction of the registration it applies.
 */
import type Database from "better-sqlite3";
import { join } from "node:path";
import { openDurableDatabase } from "../../sqlite/durable-database.js";
import type { StreamRegistration } from "./akka/envelope.js";
import type { OffsetSlice, SeenSeqNr, StreamOffset, StreamStep } from "./akka/sequence.js";
import type { Registration } from "./event.js";
import { parseSecretDigest } from "../../auth/secret-digest.js";
import { RevocationListeners, secretDigest, secretMatches, type RegisteredSensor, type RegistryVerdict, type SensorRegistry } from "../ingest/sensor-registry.js";

export const REGISTRATION_STORE_FILE = "registrations.db";

/** Append only (see hosts/sqlite/durable-database.ts). */
export const MIGRATIONS: readonly string[] = [
  // registered_at is the cloud's clock, received_at the gateway's (what list() reports).
  `CREATE TABLE registrations (
     sensor_id TEXT PRIMARY KEY,
     secret_digest BLOB NOT NULL,
     registered_at INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     offset INTEGER NOT NULL
   );
   CREATE TABLE stream_offset (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     offset INTEGER NOT NULL
   );
   INSERT INTO stream_offset (id, offset) VALUES (1, 0);`,
  // The Akka Projection gRPC transport (akka/): per stream, the
  // last seq_nr handled per persistence id, and the offset InitReq sends back
  // (timestamp + the (pid, seq_nr) pairs seen at it, as JSON [[pid, seq_nr], ...]).
  // Registrations it applies have offset 0 in registrations (no SSE offset).
  `CREATE TABLE akka_seq_nr (
     stream_id TEXT NOT NULL,
     persistence_id TEXT NOT NULL,
     seq_nr INTEGER NOT NULL,
     PRIMARY KEY (stream_id, persistence_id)
   ) WITHOUT ROWID;
   CREATE TABLE akka_offset (
     stream_id TEXT PRIMARY KEY,
     seconds INTEGER NOT NULL,
     nanos INTEGER NOT NULL,
     seen TEXT NOT NULL
   );`,
  // Offsets per slice, for producers that keep a TimestampOffsetBySlice
  // (akka_offset keeps the whole stream's, as before).
  `CREATE TABLE akka_slice_offset (
     stream_id TEXT NOT NULL,
     slice INTEGER NOT NULL,
     seconds INTEGER NOT NULL,
     nanos INTEGER NOT NULL,
     seen TEXT NOT NULL,
     PRIMARY KEY (stream_id, slice)
   ) WITHOUT ROWID;`,
];

/** "stale": the event is at or before the stored offset, so it is already in (a replay after a restart). */
export type ApplyOutcome = "registered" | "replaced" | "stale";

/** An Akka stream's stored position: where it resumes (the whole stream's offset and/or each slice's), and the last seq_nr handled per persistence id. */
export interface StreamPosition {
  offsets: Map<OffsetSlice, StreamOffset>;
  seqNrs: Map<string, number>;
}

type OffsetRow = { seconds: number; nanos: number; seen: string };

function offsetOf(row: OffsetRow): StreamOffset {
  const seen = (JSON.parse(row.seen) as [string, number][]).map(([persistenceId, seqNr]): SeenSeqNr => ({ persistenceId, seqNr }));
  return { timestamp: { seconds: row.seconds, nanos: row.nanos }, seen };
}

const seenJson = (offset: StreamOffset) => JSON.stringify(offset.seen.map((s) => [s.persistenceId, s.seqNr]));

interface Entry {
  digest: Buffer;
  receivedAt: number;
}

interface RegistrationRow {
  sensor_id: string;
  secret_digest: Buffer;
  received_at: number;
}

export class RegistrationProjection implements SensorRegistry {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #now: () => number;
  /** The table, held in memory: CONNECT checks must not wait on the disk. */
  readonly #entries = new Map<string, Entry>();
  readonly #revocations = new RevocationListeners();
  #offset: number;

  static open(dataDir: string, now: () => number = Date.now): RegistrationProjection {
    return new RegistrationProjection(openDurableDatabase(dataDir, REGISTRATION_STORE_FILE, MIGRATIONS), join(dataDir, REGISTRATION_STORE_FILE), now);
  }

  private constructor(db: Database.Database, path: string, now: () => number) {
    this.#db = db;
    this.path = path;
    this.#now = now;
    for (const row of db.prepare<[], RegistrationRow>("SELECT sensor_id, secret_digest, received_at FROM registrations").all()) {
      this.#entries.set(row.sensor_id, { digest: row.secret_digest, receivedAt: row.received_at });
    }
    this.#offset = (db.prepare("SELECT offset FROM stream_offset WHERE id = 1").get() as { offset: number }).offset;
  }

  /** The offset of the last event applied or skipped: the stream resumes after it. */
  offset(): number {
    return this.#offset;
  }

  /**
   * Stores the registration (replacing the sensor's digest if it had one) and
   * its offset, in one transaction. A sensor whose secret is replaced by
   * another loses the sessions it logged in with (onRevoked).
   */
  apply(registration: Registration): ApplyOutcome {
    if (registration.offset <= this.#offset) return "stale";
    const upserted = this.#db.transaction(() => {
      const row = this.#upsert(registration.sensorId, registration.secret, registration.registeredAt, registration.offset);
      this.#storeOffset(registration.offset);
      return row;
    })();
    // Memory follows the commit, never leads it.
    this.#adopt(registration.sensorId, upserted.entry);
    this.#offset = registration.offset;
    return upserted.outcome;
  }

  /** The stored position of Akka stream `streamId` (none on a first start). */
  streamPosition(streamId: string): StreamPosition {
    const seqNrs = new Map<string, number>();
    for (const row of this.#db.prepare<[string], { persistence_id: string; seq_nr: number }>("SELECT persistence_id, seq_nr FROM akka_seq_nr WHERE stream_id = ?").all(streamId)) {
      seqNrs.set(row.persistence_id, row.seq_nr);
    }
    const offsets = new Map<OffsetSlice, StreamOffset>();
    const whole = this.#db.prepare<[string], OffsetRow>("SELECT seconds, nanos, seen FROM akka_offset WHERE stream_id = ?").get(streamId);
    if (whole !== undefined) offsets.set(null, offsetOf(whole));
    for (const row of this.#db.prepare<[string], OffsetRow & { slice: number }>("SELECT slice, seconds, nanos, seen FROM akka_slice_offset WHERE stream_id = ? ORDER BY slice").all(streamId)) {
      offsets.set(row.slice, offsetOf(row));
    }
    return { offsets, seqNrs };
  }

  /**
   * Records one handled event of Akka stream `streamId` (its pid's seq_nr and
   * the offset after it) and the registration it carries, when it carries
   * one, in one transaction: after a crash, either both are in or neither.
   * "recorded": a position without a registration (a filtered or bad event).
   */
  applyStreamEvent(streamId: string, step: StreamStep, registration: StreamRegistration | null): "registered" | "replaced" | "recorded" {
    const upserted = this.#db.transaction(() => {
      this.#db
        .prepare("INSERT INTO akka_seq_nr (stream_id, persistence_id, seq_nr) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET seq_nr = excluded.seq_nr")
        .run(streamId, step.persistenceId, step.seqNr);
      for (const [slice, offset] of step.offsets) {
        const { seconds, nanos } = offset.timestamp;
        if (slice === null) {
          this.#db
            .prepare(
              `INSERT INTO akka_offset (stream_id, seconds, nanos, seen) VALUES (?, ?, ?, ?)
               ON CONFLICT DO UPDATE SET seconds = excluded.seconds, nanos = excluded.nanos, seen = excluded.seen`,
            )
            .run(streamId, seconds, nanos, seenJson(offset));
        } else {
          this.#db
            .prepare(
              `INSERT INTO akka_slice_offset (stream_id, slice, seconds, nanos, seen) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT DO UPDATE SET seconds = excluded.seconds, nanos = excluded.nanos, seen = excluded.seen`,
            )
            .run(streamId, slice, seconds, nanos, seenJson(offset));
        }
      }
      return registration === null ? null : this.#upsert(registration.sensorId, registration.secret, registration.registeredAt, 0);
    })();
    if (registration === null || upserted === null) return "recorded";
    this.#adopt(registration.sensorId, upserted.entry);
    return upserted.outcome;
  }

  /** Moves the offset past an event that could not be applied, so the feed does not receive it again. */
  skip(offset: number): void {
    if (offset <= this.#offset) return;
    this.#storeOffset(offset);
    this.#offset = offset;
  }

  verify(sensorId: string, secret: Uint8Array | string | undefined): RegistryVerdict {
    const entry = this.#entries.get(sensorId);
    if (entry === undefined) return "unregistered";
    return secretMatches(entry.digest, secret) ? "ok" : "bad-secret";
  }

  isRegistered(sensorId: string): boolean {
    return this.#entries.has(sensorId);
  }

  list(): RegisteredSensor[] {
    return [...this.#entries].map(([sensorId, { receivedAt }]) => ({ sensorId, registeredAt: receivedAt }));
  }

  onRevoked(listener: (sensorId: string) => void): () => void {
    return this.#revocations.add(listener);
  }

  /** A committed registration into memory; a changed secret revokes what the old one opened. */
  #adopt(sensorId: string, entry: Entry): void {
    const before = this.#entries.get(sensorId);
    this.#entries.set(sensorId, entry);
    if (before === undefined || before.digest.equals(entry.digest)) return;
    try {
      this.#revocations.revoked(sensorId);
    } catch {
      // The registration is committed whatever a listener did; the listener (the device listener) logs its own faults.
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  /** Inside a transaction; the caller puts the entry in memory once it has committed. `secret` may be its digest. */
  #upsert(sensorId: string, secret: string, registeredAt: number, offset: number): { outcome: "registered" | "replaced"; entry: Entry } {
    const digest = parseSecretDigest(secret) ?? secretDigest(secret);
    const receivedAt = this.#now();
    const found = this.#db.prepare("SELECT 1 FROM registrations WHERE sensor_id = ?").get(sensorId) !== undefined;
    this.#db
      .prepare(
        `INSERT INTO registrations (sensor_id, secret_digest, registered_at, received_at, offset) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (sensor_id) DO UPDATE SET secret_digest = excluded.secret_digest, registered_at = excluded.registered_at,
           received_at = excluded.received_at, offset = excluded.offset`,
      )
      .run(sensorId, digest, registeredAt, receivedAt, offset);
    return { outcome: found ? "replaced" : "registered", entry: { digest, receivedAt } };
  }

  #storeOffset(offset: number): void {
    this.#db.prepare("UPDATE stream_offset SET offset = ? WHERE id = 1").run(offset);
  }
}
