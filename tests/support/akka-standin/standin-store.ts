/*
 * The stand-in's durable state in one SQLite file under its data dir, so a
 * SIGKILLed stand-in restarts with the same journal, consumed events and
 * counters: the journal of events it produces (registrations), the events it
 * consumed (one row per persistence id and seq_nr), and named counters.
 * A test may open the same file read-side while a stand-in process runs.
 */
import type Database from "better-sqlite3";
import { openDurableDatabase } from "../../../hosts/sqlite/durable-database.js";
import { sliceOf } from "./slice.js";
import type { Timestamp } from "./wire.js";

const FILE = "akka-standin.sqlite";

const MIGRATIONS = [`
  CREATE TABLE journal (
    ordinal INTEGER PRIMARY KEY,
    persistence_id TEXT NOT NULL,
    seq_nr INTEGER NOT NULL,
    timestamp_us INTEGER NOT NULL,
    slice INTEGER NOT NULL,
    type_url TEXT NOT NULL,
    payload BLOB NOT NULL,
    UNIQUE (persistence_id, seq_nr)
  );
  CREATE INDEX journal_by_time ON journal (timestamp_us);
  CREATE TABLE consumed (
    persistence_id TEXT NOT NULL,
    seq_nr INTEGER NOT NULL,
    kind TEXT NOT NULL,
    origin_id TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    slice INTEGER NOT NULL,
    source TEXT NOT NULL,
    seconds INTEGER,
    nanos INTEGER,
    type_url TEXT,
    payload BLOB,
    temperature INTEGER,
    PRIMARY KEY (persistence_id, seq_nr)
  );
  CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
`];

export interface JournalEvent {
  /** Order of appends across all persistence ids; timestamps increase with it. */
  ordinal: number;
  persistenceId: string;
  seqNr: number;
  timestampUs: number;
  slice: number;
  typeUrl: string;
  payload: Buffer;
}

/** One event (or FilteredEvent marker) received on ConsumeEvent. */
export interface ConsumedEvent {
  persistenceId: string;
  seqNr: number;
  kind: "event" | "filtered";
  originId: string;
  streamId: string;
  slice: number;
  source: string;
  /** The event's offset timestamp as the producer sent it; null if it sent none. */
  timestamp: Timestamp | null;
  /** null for a FilteredEvent. */
  typeUrl: string | null;
  /** The payload's bytes, kept whatever its type. */
  payload: Buffer | null;
  /** Decoded for iot.temperature.TemperatureRead, else null. */
  temperature: number | null;
}

/** "stored" the first time; "duplicate" if the same event came before; "conflict" if a different one did. */
export type ConsumeOutcome = "stored" | "duplicate" | "conflict";

interface JournalRow { ordinal: number; persistence_id: string; seq_nr: number; timestamp_us: number; slice: number; type_url: string; payload: Buffer }
interface ConsumedRow {
  persistence_id: string; seq_nr: number; kind: "event" | "filtered"; origin_id: string; stream_id: string; slice: number; source: string;
  seconds: number | null; nanos: number | null; type_url: string | null; payload: Buffer | null; temperature: number | null;
}

const journalEvent = (row: JournalRow): JournalEvent => ({
  ordinal: row.ordinal, persistenceId: row.persistence_id, seqNr: row.seq_nr, timestampUs: row.timestamp_us,
  slice: row.slice, typeUrl: row.type_url, payload: row.payload,
});

const consumedEvent = (row: ConsumedRow): ConsumedEvent => ({
  persistenceId: row.persistence_id, seqNr: row.seq_nr, kind: row.kind, originId: row.origin_id, streamId: row.stream_id,
  slice: row.slice, source: row.source, timestamp: row.seconds === null ? null : { seconds: row.seconds, nanos: row.nanos ?? 0 },
  typeUrl: row.type_url, payload: row.payload, temperature: row.temperature,
});

export class StandinStore {
  readonly #db: Database.Database;
  readonly #append: (persistenceId: string, typeUrl: string, payload: Buffer, nowUs: number) => JournalEvent;
  readonly #consume: (event: ConsumedEvent) => ConsumeOutcome;

  constructor(dataDir: string) {
    this.#db = openDurableDatabase(dataDir, FILE, MIGRATIONS);
    const db = this.#db;
    this.#append = db.transaction((persistenceId: string, typeUrl: string, payload: Buffer, nowUs: number) => {
      const last = db.prepare<[], { ts: number | null }>("SELECT MAX(timestamp_us) AS ts FROM journal").get()!;
      const seq = db.prepare<[string], { seq: number | null }>("SELECT MAX(seq_nr) AS seq FROM journal WHERE persistence_id = ?").get(persistenceId)!;
      // Strictly increasing even if the clock stands still or steps back, so (timestamp, seen) offsets stay exact.
      const timestampUs = Math.max(nowUs, (last.ts ?? 0) + 1);
      const seqNr = (seq.seq ?? 0) + 1;
      const slice = sliceOf(persistenceId);
      const result = db.prepare("INSERT INTO journal (persistence_id, seq_nr, timestamp_us, slice, type_url, payload) VALUES (?, ?, ?, ?, ?, ?)")
        .run(persistenceId, seqNr, timestampUs, slice, typeUrl, payload);
      return { ordinal: Number(result.lastInsertRowid), persistenceId, seqNr, timestampUs, slice, typeUrl, payload };
    });
    this.#consume = db.transaction((event: ConsumedEvent) => {
      const before = db.prepare<[string, number], ConsumedRow>("SELECT * FROM consumed WHERE persistence_id = ? AND seq_nr = ?").get(event.persistenceId, event.seqNr);
      if (before) {
        const same = before.kind === event.kind && before.type_url === event.typeUrl
          && Buffer.compare(before.payload ?? Buffer.alloc(0), event.payload ?? Buffer.alloc(0)) === 0;
        this.#count(same ? "duplicates" : "conflicts");
        return same ? "duplicate" : "conflict";
      }
      db.prepare(`INSERT INTO consumed (persistence_id, seq_nr, kind, origin_id, stream_id, slice, source, seconds, nanos, type_url, payload, temperature)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        event.persistenceId, event.seqNr, event.kind, event.originId, event.streamId, event.slice, event.source,
        event.timestamp?.seconds ?? null, event.timestamp?.nanos ?? null, event.typeUrl, event.payload, event.temperature);
      this.#count(event.kind === "event" ? "consumed_events" : "consumed_filtered");
      return "stored";
    });
  }

  /** Appends an event to `persistenceId`'s journal with the next seq_nr and a timestamp after every other. */
  append(persistenceId: string, typeUrl: string, payload: Buffer, nowUs: number): JournalEvent {
    return this.#append(persistenceId, typeUrl, payload, nowUs);
  }

  /** Events with timestamp_us >= `fromUs`, in journal order. */
  eventsFrom(fromUs: number): JournalEvent[] {
    return this.#db.prepare<[number], JournalRow>("SELECT * FROM journal WHERE timestamp_us >= ? ORDER BY ordinal").all(fromUs).map(journalEvent);
  }

  /** `persistenceId`'s events from `fromSeqNr` on. */
  eventsOf(persistenceId: string, fromSeqNr: number): JournalEvent[] {
    return this.#db.prepare<[string, number], JournalRow>("SELECT * FROM journal WHERE persistence_id = ? AND seq_nr >= ? ORDER BY seq_nr")
      .all(persistenceId, fromSeqNr).map(journalEvent);
  }

  event(persistenceId: string, seqNr: number): JournalEvent | undefined {
    const row = this.#db.prepare<[string, number], JournalRow>("SELECT * FROM journal WHERE persistence_id = ? AND seq_nr = ?").get(persistenceId, seqNr);
    return row && journalEvent(row);
  }

  /** Stores a consumed event once per (persistence id, seq_nr); a repeat is counted, never stored twice. */
  consume(event: ConsumedEvent): ConsumeOutcome {
    return this.#consume(event);
  }

  /** Everything consumed, in the order it first arrived. */
  consumed(): ConsumedEvent[] {
    return this.#db.prepare<[], ConsumedRow>("SELECT * FROM consumed ORDER BY rowid").all().map(consumedEvent);
  }

  /** The latest consumed TemperatureRead of `persistenceId`, by seq_nr. */
  latestTemperature(persistenceId: string): number | undefined {
    const row = this.#db.prepare<[string], { temperature: number }>(
      "SELECT temperature FROM consumed WHERE persistence_id = ? AND temperature IS NOT NULL ORDER BY seq_nr DESC LIMIT 1").get(persistenceId);
    return row?.temperature;
  }

  count(name: string, by = 1): void {
    this.#count(name, by);
  }

  counters(): Record<string, number> {
    const rows = this.#db.prepare<[], { name: string; value: number }>("SELECT name, value FROM counters ORDER BY name").all();
    return Object.fromEntries(rows.map(({ name, value }) => [name, value]));
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  #count(name: string, by = 1): void {
    this.#db.prepare("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value").run(name, by);
  }
}
