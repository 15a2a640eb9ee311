/*
 * What memory must follow of the store's transactions: the rows a
 * transaction stored (handed to the relay from memory once it commits, so
 * the relay need not read back what was just written), whether it re-timed
 * rows (the relay's copies are stale then, and it reads them from SQLite)
 * or took rows out of the outbox (a rollback puts them back), and the
 * figures' changes (tally.ts, pending until the outermost commit). A
 * rollback, of the whole or to a savepoint, undoes in memory what it
 * undid in SQLite; outside a transaction a change applies at once.
 */
import type Database from "better-sqlite3";
import type { BootAnchors } from "./boot-anchors.js";
import type { RelayRows } from "./relay-rows.js";
import type { StoredObservation } from "./schema.js";
import type { StoreChange, StoreTally } from "./tally.js";

export class OpenTransaction {
  readonly #db: Database.Database;
  readonly #tally: StoreTally;
  readonly #relayRows: RelayRows;
  readonly #anchors: BootAnchors;
  /** Runs a function in a transaction (a savepoint when nested): prepared once, not per call. */
  readonly #inTransaction: <T>(work: () => T) => T;
  /** Rows stored by the open transaction, for the relay once it commits. */
  #staged: StoredObservation[] = [];
  /** The highest row id committed (rows are inserted only through `stored`, with ids that only grow). */
  #lastRowId: number;
  /** The open transaction changed rows' times: its staged rows are stale, and the relay must not get them from memory. */
  #retimed = false;
  /** The open transaction took rows out of the outbox (keepLocal): a rollback puts them back. */
  #kept = false;

  constructor(db: Database.Database, tally: StoreTally, relayRows: RelayRows, anchors: BootAnchors) {
    this.#db = db;
    this.#tally = tally;
    this.#relayRows = relayRows;
    this.#anchors = anchors;
    this.#inTransaction = db.transaction((work: () => unknown) => work()) as <T>(work: () => T) => T;
    this.#lastRowId = (db.prepare("SELECT max(id) AS n FROM observations").get() as { n: number | null }).n ?? 0;
  }

  /** The highest observation id committed so far. */
  get lastRowId(): number {
    return this.#lastRowId;
  }

  /** Runs `work` in one transaction (a savepoint when nested), memory following what it committed or undid. */
  run<T>(work: () => T): T {
    const outermost = !this.#db.inTransaction;
    const staged = this.#staged.length;
    const changes = this.#tally.mark;
    let result: T;
    try {
      result = this.#inTransaction(work);
    } catch (e) {
      // Rolled back (to the savepoint, if nested): what it staged was never stored, and the anchor cache may hold what it wrote.
      this.#staged.length = staged;
      this.#tally.rollbackTo(changes);
      this.#anchors.forgetCached();
      if (this.#kept) this.#relayRows.rolledBack();
      if (outermost) this.#retimed = this.#kept = false;
      throw e;
    }
    if (outermost) this.#committed();
    return result;
  }

  /** A row was inserted: staged for the relay (from memory once committed) and counted. */
  stored(row: StoredObservation, change: StoreChange): void {
    this.#staged.push(row);
    this.count(change);
    if (!this.#db.inTransaction) this.#committed();
  }

  /** A change to the figures: counted once the outermost transaction commits (now, outside one). */
  count(change: StoreChange): void {
    this.#tally.record(change, this.#db.inTransaction);
  }

  /** Rows changed their times in SQLite: the copies in memory, the relay's and the open transaction's, are stale. */
  retimed(): void {
    this.#relayRows.retimed();
    if (this.#db.inTransaction) this.#retimed = true;
  }

  /** Rows left the outbox without being relayed (a rule kept them): back in it if the transaction rolls back. */
  kept(): void {
    if (this.#db.inTransaction) this.#kept = true;
  }

  /** The outermost transaction committed (or a lone write did): the relay may have its new rows from memory. */
  #committed(): void {
    const staged = this.#staged;
    this.#staged = [];
    for (const row of staged) if (row.id > this.#lastRowId) this.#lastRowId = row.id;
    this.#tally.commit();
    this.#kept = false;
    if (this.#retimed) this.#retimed = false;
    else this.#relayRows.committed(staged);
  }
}
