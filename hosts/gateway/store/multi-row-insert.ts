/*
 * Observations inserted many to a statement. Each INSERT of one row costs
 * SQLite a statement's setup (a cursor on the table and on each of its
 * indexes, the seeks) and, the table being AUTOINCREMENT, a write of
 * sqlite_sequence; a group commit's rows, inserted 64 to a statement, pay
 * those once per 64 (insert and commit of one device's rows, 450 to a
 * transaction, took 4.5–5.0 µs of CPU per row against 5.9–6.8 µs one to a
 * statement, on this schema). Chunks are 64 rows and the powers of two
 * below it, so a run of any length takes a few statements, each prepared
 * once.
 *
 * A chunk is one sensor's consecutive rows: SQLite keeps a copy of every
 * page a multi-row statement changes until it completes (its statement
 * journal, so it can undo the statement alone), and one sensor's rows
 * share a few pages where rows of many sensors each dirty leaves of their
 * own (at 100 devices taking turns the copies cost more than the statements
 * saved, and spilled to a temporary file). With one publish per device in
 * a group, chunks are single rows, inserted as before.
 *
 * The statement has no ON CONFLICT clause: a row already stored (a retry)
 * or repeated within the chunk fails it with a UNIQUE violation, which
 * undoes the statement alone, and the caller then appends those rows one
 * by one, learning which is which. When it succeeds, every row went in,
 * with consecutive ids in the order given.
 */
import type Database from "better-sqlite3";
import type { TimedObservation } from "../../../modules/observation/record.js";

/** Rows per statement at most: 8 parameters each, far below SQLite's limit on parameters. */
export const MAX_ROWS_PER_INSERT = 64;

const COLUMNS = "(sensor_id, seq, boot, uptime_ms, time, time_source, readings, received_at)";
const ROW = "(?, ?, ?, ?, ?, ?, ?, ?)";

export class MultiRowInsert {
  readonly #db: Database.Database;
  readonly #statements = new Map<number, Database.Statement<unknown[]>>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Rows of the chunk at observations[from]: the largest power of two, 64 at most, of that sensor's rows next in the list. */
  static chunkSize(observations: readonly TimedObservation[], from: number): number {
    const sensorId = observations[from].sensorId;
    let run = 1;
    while (run < MAX_ROWS_PER_INSERT && from + run < observations.length && observations[from + run].sensorId === sensorId) run++;
    let size = MAX_ROWS_PER_INSERT;
    while (size > run) size >>= 1;
    return size;
  }

  /**
   * Inserts observations[from .. from + size) (size from `chunkSize`), each
   * with its readings' JSON and receive time, and returns the last one's id;
   * or inserts none and returns undefined if one is stored already or
   * repeated among them.
   */
  insert(observations: readonly TimedObservation[], readings: readonly string[], receivedAt: readonly number[], from: number, size: number): number | undefined {
    const params: unknown[] = new Array(size * 8);
    for (let i = 0, p = 0; i < size; i++) {
      const obs = observations[from + i];
      params[p++] = obs.sensorId;
      params[p++] = obs.seq;
      params[p++] = obs.boot;
      params[p++] = obs.uptimeMs;
      params[p++] = obs.time ?? null;
      params[p++] = obs.timeSource ?? null;
      params[p++] = readings[from + i];
      params[p++] = receivedAt[from + i];
    }
    try {
      return Number(this.#statement(size).run(params).lastInsertRowid);
    } catch (e) {
      if ((e as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") return undefined;
      throw e;
    }
  }

  #statement(size: number): Database.Statement<unknown[]> {
    let statement = this.#statements.get(size);
    if (statement === undefined) {
      statement = this.#db.prepare(`INSERT INTO observations ${COLUMNS} VALUES ${Array(size).fill(ROW).join(", ")}`);
      this.#statements.set(size, statement);
    }
    return statement;
  }
}
