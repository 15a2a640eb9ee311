/*
 * The gateway store's figures, kept in memory: how many observations,
 * unrelayed, untimed, anchors and quarantined payloads it holds, and per
 * sensor its row count, highest seq and newest row's id.
 *
 * better-sqlite3 is synchronous, so counting rows in SQLite on every
 * dashboard poll or /metrics scrape blocks the event loop that sends every
 * device's PUBACK, for longer the fuller the store (a full table scan for
 * the untimed rows, a full index scan for the per-sensor summaries). So the
 * store counts once, at open (`StoreTally.fromScan`), and then tells this
 * class every change it makes; reading a figure costs nothing.
 *
 * Pure: no SQLite, no clock. A change made inside a transaction is only
 * pending until the outermost transaction commits (`commit`); a rollback,
 * to a savepoint or of the whole, drops what it made (`rollbackTo`). So a
 * group commit that fails counts nothing, and the figures stay exactly what
 * SQLite holds.
 */

/** What the store knows of one sensor, without its newest row's content. */
export interface SensorTally {
  observations: number;
  /** The highest seq stored. */
  lastSeq: number;
  /** The id of its newest row (rows are read by id, O(log n)). */
  lastId: number;
}

/** The store's whole-table figures. */
export interface TallyCounts {
  observations: number;
  unrelayed: number;
  /** Observations with no wall time. */
  untimed: number;
  anchors: number;
  rejected: number;
}

/** One sensor's share of an eviction: rows deleted, and what is left of it (null: nothing). */
export interface EvictedShare {
  sensorId: string;
  rows: number;
  remaining: { lastSeq: number; lastId: number } | null;
}

/** A change the store made to its rows, as this class needs to know it. */
export type StoreChange =
  | { kind: "stored"; sensorId: string; seq: number; id: number; untimed: boolean }
  /** Untimed rows an anchor gave a time. */
  | { kind: "timed"; rows: number }
  | { kind: "anchorAdded" }
  /** Rows the cloud acknowledged; `untimedAgain` of them kept the no-time they were sent with, though an anchor had timed them. */
  | { kind: "relayed"; rows: number; untimedAgain: number }
  | { kind: "quarantined" }
  | { kind: "quarantineEvicted"; rows: number }
  | { kind: "evicted"; unrelayed: number; untimed: number; sensors: readonly EvictedShare[] };

/** What the one scan at open found. */
export interface TallyScan {
  sensors: Iterable<{ sensorId: string } & SensorTally>;
  unrelayed: number;
  untimed: number;
  anchors: number;
  rejected: number;
}

export class StoreTally {
  readonly #counts: TallyCounts;
  readonly #sensors = new Map<string, SensorTally>();
  /** Changes made inside the open transaction, in order; applied when it commits. */
  #pending: StoreChange[] = [];

  static fromScan(scan: TallyScan): StoreTally {
    const tally = new StoreTally(scan);
    for (const { sensorId, observations, lastSeq, lastId } of scan.sensors) {
      tally.#sensors.set(sensorId, { observations, lastSeq, lastId });
      tally.#counts.observations += observations;
    }
    return tally;
  }

  private constructor(scan: TallyScan) {
    this.#counts = { observations: 0, unrelayed: scan.unrelayed, untimed: scan.untimed, anchors: scan.anchors, rejected: scan.rejected };
  }

  counts(): TallyCounts {
    return { ...this.#counts };
  }

  /** Committed unrelayed rows, without copying the counts: the outbox reads it for every publish. */
  get unrelayed(): number {
    return this.#counts.unrelayed;
  }

  /** Every sensor with rows, by id (the order SQLite's BINARY collation gives: ids are ASCII). */
  sensors(): ({ sensorId: string } & SensorTally)[] {
    const ids = [...this.#sensors.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return ids.map((sensorId) => ({ sensorId, ...this.#sensors.get(sensorId)! }));
  }

  /** The id of the sensor's newest committed row; undefined when it has none. */
  newestId(sensorId: string): number | undefined {
    return this.#sensors.get(sensorId)?.lastId;
  }

  /** A change the store made; pending until `commit` when made inside a transaction, else counted now. */
  record(change: StoreChange, inTransaction: boolean): void {
    if (inTransaction) this.#pending.push(change);
    else this.#apply(change);
  }

  /** A mark to roll back to: taken when a transaction or savepoint begins. */
  get mark(): number {
    return this.#pending.length;
  }

  /** The transaction (or savepoint) begun at `mark` rolled back: what it changed never happened. */
  rollbackTo(mark: number): void {
    this.#pending.length = Math.min(mark, this.#pending.length);
  }

  /** The outermost transaction committed: its changes are now SQLite's. */
  commit(): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const change of pending) this.#apply(change);
  }

  #apply(change: StoreChange): void {
    const counts = this.#counts;
    switch (change.kind) {
      case "stored": {
        counts.observations++;
        counts.unrelayed++;
        if (change.untimed) counts.untimed++;
        const sensor = this.#sensors.get(change.sensorId);
        if (sensor === undefined) this.#sensors.set(change.sensorId, { observations: 1, lastSeq: change.seq, lastId: change.id });
        else {
          sensor.observations++;
          sensor.lastSeq = Math.max(sensor.lastSeq, change.seq);
          sensor.lastId = Math.max(sensor.lastId, change.id);
        }
        break;
      }
      case "timed":
        counts.untimed -= change.rows;
        break;
      case "anchorAdded":
        counts.anchors++;
        break;
      case "relayed":
        counts.unrelayed -= change.rows;
        counts.untimed += change.untimedAgain;
        break;
      case "quarantined":
        counts.rejected++;
        break;
      case "quarantineEvicted":
        counts.rejected -= change.rows;
        break;
      case "evicted":
        counts.unrelayed -= change.unrelayed;
        counts.untimed -= change.untimed;
        for (const share of change.sensors) this.#evicted(share);
        break;
    }
  }

  #evicted({ sensorId, rows, remaining }: EvictedShare): void {
    this.#counts.observations -= rows;
    const sensor = this.#sensors.get(sensorId);
    if (sensor === undefined) return;
    sensor.observations -= rows;
    if (remaining === null || sensor.observations <= 0) this.#sensors.delete(sensorId);
    else Object.assign(sensor, remaining);
  }
}
