/*
 * The gateway's copy of the cloud's sensor registrations: a projection of
 * the registration stream into its own SQLite file, and the SensorRegistry
 * ingest asks.
 *
 * Each event is applied together with the stream offset in ONE transaction,
 * so after a crash the stored offset says exactly which events are in: on
 * restart the feed resumes after it, nothing is applied twice and nothing is
 * missed. Only SHA-256 digests of secrets are kept, on disk and in memory
 * (see sensor-registry.ts); a stolen registrations.db does not let anyone
 * connect as a device.
 *
 * Knows nothing of HTTP: registration-feed.ts brings the events.
 */
import type Database from "better-sqlite3";
import { join } from "node:path";
import { openDurableDatabase } from "../sqlite/durable-database.js";
import type { Registration } from "./registration-event.js";
import { secretDigest, secretMatches, type RegisteredSensor, type RegistryVerdict, type SensorRegistry } from "./sensor-registry.js";

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
];

/** "stale": the event is at or before the stored offset, so it is already in (a replay after a restart). */
export type ApplyOutcome = "registered" | "replaced" | "stale";

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
   * its offset, in one transaction. A sensor whose secret is replaced keeps
   * any connection it has; its next CONNECT needs the new secret.
   */
  apply(registration: Registration): ApplyOutcome {
    if (registration.offset <= this.#offset) return "stale";
    const digest = secretDigest(registration.secret);
    const receivedAt = this.#now();
    const existed = this.#db.transaction(() => {
      const found = this.#db.prepare("SELECT 1 FROM registrations WHERE sensor_id = ?").get(registration.sensorId) !== undefined;
      this.#db
        .prepare(
          `INSERT INTO registrations (sensor_id, secret_digest, registered_at, received_at, offset) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (sensor_id) DO UPDATE SET secret_digest = excluded.secret_digest, registered_at = excluded.registered_at,
             received_at = excluded.received_at, offset = excluded.offset`,
        )
        .run(registration.sensorId, digest, registration.registeredAt, receivedAt, registration.offset);
      this.#storeOffset(registration.offset);
      return found;
    })();
    // Memory follows the commit, never leads it.
    this.#entries.set(registration.sensorId, { digest, receivedAt });
    this.#offset = registration.offset;
    return existed ? "replaced" : "registered";
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

  get size(): number {
    return this.#entries.size;
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  #storeOffset(offset: number): void {
    this.#db.prepare("UPDATE stream_offset SET offset = ? WHERE id = 1").run(offset);
  }
}
