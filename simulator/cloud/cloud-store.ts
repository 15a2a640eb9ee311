/*
 * The reference cloud's store: registered sensors and every observation a
 * gateway relayed, in one SQLite file.
 *
 * Observations get an `offset` (autoincrement, never reused), the position a
 * reader resumes from, like a Kafka or Akka projection offset. UNIQUE(sensor_id,
 * seq) turns a gateway's resend after a lost answer into an acknowledged no-op.
 *
 * Sensors' secrets are never kept: only their digests ("sha256:<hex>",
 * hosts/auth/secret-digest.ts), which is all a gateway needs to check a
 * device's password. The file is 0600 (hosts/sqlite/durable-database.ts),
 * and secure_delete is on, so a replaced digest is zeroed rather than left in
 * a free page.
 *
 * What this store commits is durable once `sync` resolves, not before: the
 * connection runs at synchronous=NORMAL and `sync` adds FULL's one fsync of
 * the WAL, on a thread of its own and shared by every commit made while one
 * runs (hosts/sqlite/wal-sync.ts), as the gateway's store does. So the
 * cloud's event loop goes on parsing and committing the next requests while
 * the disk works, and requests in flight together share one fsync. Every
 * caller that acknowledges (a POST's answer, a ConsumerEventAck, a
 * registration's answer) waits for `sync` first.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { secretDigestText } from "../../hosts/auth/secret-digest.js";
import { durabilityOf, openDurableDatabase } from "../../hosts/sqlite/durable-database.js";
import { WalSync } from "../../hosts/sqlite/wal-sync.js";
import { WalCheckpointer, type CheckpointStats } from "../../hosts/sqlite/wal-checkpointer.js";
import { persistenceIdOf, sliceOf } from "../../hosts/grpc/persistence-id.js";
import { EventJournal, SENSOR_ENTITY } from "./grpc/event-journal.js";
import { QuarantineTable, type QuarantinedEvent } from "./grpc/quarantine-table.js";
import type { Registration } from "./validate.js";
import { MIGRATIONS, toCloud, toObservation, toSensor, type AppendResult, type CloudObservation, type ConsumedObservation, type ObservationRow, type RegistrationEvent, type SensorInfo, type SensorRow } from "./cloud-schema.js";

export { MIGRATIONS, type AppendResult, type CloudObservation, type ConsumedObservation, type RegistrationEvent, type SensorInfo } from "./cloud-schema.js";

export const CLOUD_STORE_FILE = "cloud.db";
/** The WAL's bound should the checkpoint worker fall behind: about 40 MB of 4 KB pages, as the gateway's store. */
export const CLOUD_WAL_CHECKPOINT_PAGES = 10_000;

export class CloudStore {
  readonly path: string;
  /** The same data as Akka Projection gRPC event streams. */
  readonly journal: EventJournal;
  /** gRPC events that could not be stored as observations. */
  readonly quarantine: QuarantineTable;
  readonly #db: Database.Database;
  readonly #walSync: WalSync;
  readonly #checkpointer: WalCheckpointer;

  static open(dataDir: string): CloudStore {
    // Durable before we answer matters here too (the gateway deletes its copy once we do): FULL until open, then `sync`.
    const db = openDurableDatabase(dataDir, CLOUD_STORE_FILE, MIGRATIONS, (opened) => {
      opened.pragma("secure_delete = ON");
      // Migration 4's; a value already a digest (a migration rerun by hand) stays as it is.
      opened.function("xsedge_secret_digest", { deterministic: true }, (value: unknown) =>
        typeof value === "string" && /^sha256:[0-9a-f]{64}$/.test(value) ? value : secretDigestText(String(value)),
      );
    });
    try {
      // Frames of pages that held secrets before migration 4 go with the WAL's content.
      db.pragma("wal_checkpoint(TRUNCATE)");
    } catch (e) {
      db.close();
      throw e;
    }
    return new CloudStore(db, join(dataDir, CLOUD_STORE_FILE));
  }

  private constructor(db: Database.Database, path: string) {
    this.path = path;
    this.#db = db;
    // Commits are made durable by `sync`, off the event loop (see the top of this file).
    db.pragma("synchronous = NORMAL");
    this.#walSync = new WalSync(`${path}-wal`);
    // The WAL goes back into the database on a worker thread (hosts/sqlite/wal-checkpointer.ts); in a commit only past this bound.
    db.pragma(`wal_autocheckpoint = ${CLOUD_WAL_CHECKPOINT_PAGES}`);
    const totalChanges = db.prepare("SELECT total_changes() AS n");
    this.#checkpointer = new WalCheckpointer(path, () => (totalChanges.get() as { n: number }).n);
    try {
      this.journal = new EventJournal(db);
      this.quarantine = new QuarantineTable(db);
    } catch (e) {
      this.#checkpointer.close();
      db.close();
      throw e;
    }
  }

  /**
   * Resolves once every transaction committed before the call is on disk
   * (one fdatasync of the WAL, shared with the other callers meanwhile);
   * rejects if the disk said no. Acknowledge nothing before it resolves.
   */
  sync(): Promise<void> {
    return this.#walSync.sync();
  }

  /** The durability settings of this connection (synchronous: 1 = NORMAL, the WAL's fsync being `sync`'s), for diagnostics and tests. */
  durability(): { journalMode: string; synchronous: number } {
    return durabilityOf(this.#db);
  }

  /** Checkpoints the WAL's worker thread ran, for diagnostics and tests. */
  checkpoints(): CheckpointStats {
    return this.#checkpointer.stats();
  }

  /** Registers a sensor, or replaces its secret; either way it gets the next registration offset. Keeps only the secret's digest. */
  register(registration: Registration, at: number): { sensor: SensorInfo; created: boolean } {
    const digest = secretDigestText(registration.secret);
    return this.#db.transaction(() => {
      const next = (this.#db.prepare("SELECT COALESCE(MAX(registration_offset), 0) + 1 AS n FROM sensors").get() as { n: number }).n;
      const existed = this.#db.prepare("SELECT 1 FROM sensors WHERE sensor_id = ?").get(registration.sensorId) !== undefined;
      this.#db
        .prepare(
          `INSERT INTO sensors (sensor_id, secret_digest, registered_at, registration_offset) VALUES (?, ?, ?, ?)
           ON CONFLICT (sensor_id) DO UPDATE SET secret_digest = excluded.secret_digest, registered_at = excluded.registered_at,
             registration_offset = excluded.registration_offset`,
        )
        .run(registration.sensorId, digest, at, next);
      this.journal.appendRegistration(registration.sensorId, digest);
      return { sensor: { sensorId: registration.sensorId, registeredAt: at, registrationOffset: next }, created: !existed };
    })();
  }

  /** Registered sensors in registration order, without secrets. */
  sensors(): SensorInfo[] {
    const rows = this.#db
      .prepare<[], SensorRow>("SELECT sensor_id, registered_at, registration_offset FROM sensors ORDER BY registration_offset")
      .all();
    return rows.map(toSensor);
  }

  /**
   * Each sensor's latest registration with offset greater than `offset`, by
   * offset: a compacted log, since a re-registration moves the sensor to a new
   * offset and its old one is gone.
   */
  registrationsAfter(offset: number, limit: number): RegistrationEvent[] {
    return this.#db
      .prepare<[number, number], RegistrationEvent>(
        `SELECT registration_offset AS offset, sensor_id AS sensorId, secret_digest AS secretDigest, registered_at AS registeredAt
         FROM sensors WHERE registration_offset > ? ORDER BY registration_offset LIMIT ?`,
      )
      .all(offset, limit);
  }

  /** The digest of the sensor's current secret; the API serves it only on the registration streams, to gateways. */
  secretDigestOf(sensorId: string): string | undefined {
    return (this.#db.prepare<[string], { secret_digest: string }>("SELECT secret_digest FROM sensors WHERE sensor_id = ?").get(sensorId))?.secret_digest;
  }

  /** Stores a batch in one transaction; observations already stored count as duplicates. */
  append(batch: readonly ConsumedObservation[], at: number): AppendResult {
    // Checked before inserting: an INSERT that hits the UNIQUE constraint still
    // consumes an AUTOINCREMENT value, and readers would see gaps in the offsets.
    const exists = this.#db.prepare("SELECT 1 FROM observations WHERE sensor_id = ? AND seq = ?");
    const insert = this.#db.prepare(
      `INSERT INTO observations (sensor_id, seq, boot, uptime_ms, time, time_source, readings, gateway_received_at, stored_at,
         event_us, slice, payload_type, payload)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.#db.transaction(() => {
      const stored: CloudObservation[] = [];
      let duplicates = 0;
      for (const obs of batch) {
        if (exists.get(obs.sensorId, obs.seq) !== undefined) {
          duplicates++;
          continue;
        }
        // A standard quantity's reading is stored without its unit (the table implies it, so a row cannot
        // disagree with it); a declared quantity's keeps its own.
        const readings = JSON.stringify(obs.readings.map(({ quantity, value, unit }) => (unit === undefined ? { quantity, value } : { quantity, value, unit })));
        const { sensorId, seq, boot, uptimeMs } = obs;
        const event = [this.journal.nextMicros(), sliceOf(persistenceIdOf(SENSOR_ENTITY, sensorId)), obs.payload?.type_url ?? null, obs.payload?.value ?? null];
        const result = insert.run(sensorId, seq, boot, uptimeMs, obs.time ?? null, obs.timeSource ?? null, readings, obs.receivedAt ?? null, at, ...event);
        stored.push(toCloud(Number(result.lastInsertRowid), obs, at));
      }
      return { stored, duplicates };
    })();
  }

  /**
   * What one ConsumeEvent group brings, in one transaction: observations
   * (duplicates by (sensorId, seq) are no-ops) and quarantined events (one
   * already held for the same reason is not stored twice).
   */
  storeConsumed(observations: readonly ConsumedObservation[], quarantined: readonly QuarantinedEvent[], at: number): AppendResult & { quarantinedAgain: number } {
    return this.#db.transaction(() => {
      const quarantinedAgain = quarantined.filter((q) => !this.quarantine.hold(q, at)).length;
      return { ...this.append(observations, at), quarantinedAgain };
    })();
  }

  /** The sensor's newest observation (by seq) with a reading of `quantity`. */
  latestReading(sensorId: string, quantity: string): { seq: number; value: number } | undefined {
    return this.#db
      .prepare<[string, string], { seq: number; value: number }>(
        `SELECT seq, json_extract(r.value, '$.value') AS value FROM observations, json_each(observations.readings) AS r
         WHERE sensor_id = ? AND json_extract(r.value, '$.quantity') = ? ORDER BY seq DESC LIMIT 1`,
      )
      .get(sensorId, quantity);
  }

  /** Observations with offset greater than `offset`, oldest first. */
  after(offset: number, limit: number): CloudObservation[] {
    return this.#db.prepare<[number, number], ObservationRow>("SELECT * FROM observations WHERE offset > ? ORDER BY offset LIMIT ?").all(offset, limit).map(toObservation);
  }

  /** The newest offset, 0 when empty. */
  latestOffset(): number {
    return (this.#db.prepare("SELECT COALESCE(MAX(offset), 0) AS n FROM observations").get() as { n: number }).n;
  }

  counts(): { sensors: number; observations: number } {
    const one = (sql: string) => (this.#db.prepare(sql).get() as { n: number }).n;
    return { sensors: one("SELECT COUNT(*) AS n FROM sensors"), observations: one("SELECT COUNT(*) AS n FROM observations") };
  }

  close(): void {
    // First: a checkpoint running in its worker ends before this connection closes (and removes the WAL).
    this.#checkpointer.close();
    this.#walSync.close();
    if (this.#db.open) this.#db.close();
  }
}
