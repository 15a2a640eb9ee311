/*
 * Commits what the rules finished: for each delivery, the observations it
 * derived, the observations it kept at the gateway, its alerts, and the
 * rule's new offset and state, all in one SQLite transaction. That is the
 * exactly-once of rules: after a crash a rule resumes at the offset of its
 * last commit, whose outputs are in the store, and no later output is.
 *
 * Deliveries are queued and committed COMMIT_INTERVAL_MS after the first
 * of them, a rule's together in transactions of their own of at most
 * MAX_ROWS_PER_COMMIT rows (but a delivery whole), each in a turn of the
 * event loop of its own (loop-turns.ts): ten rules' commits in one
 * transaction held the loop that sends PUBACKs for milliseconds. The pieces
 * of a round are spread over the interval rather than run back to back:
 * every page they write is carried by the next device group commit's
 * fsync, and a round's pages at once (ten rules' 200 ms: about a megabyte
 * in the bench) made those few fsyncs, and the PUBACKs waiting on them,
 * several milliseconds slower, where spread out each fsync carries a
 * little. A
 * hand-over or a stop commits everything at once (`flush`). No commit has
 * a sync of its own (the store runs at
 * synchronous=NORMAL; the next device group commit's sync, off the event
 * loop, takes them to disk): a device's PUBACK never waits for a rule's
 * commit, only for the bytes it wrote. A power cut may take the last commits back,
 * outputs and offset together; the rule then derives them again from the
 * same durable observations and state, with the same seqs, so the cloud
 * (which drops repeats by sensor and seq) sees each once. A rule may run ahead of its commit (its next
 * delivery starts from the state the worker holds); the queue is bounded,
 * and a rule waits while it is full.
 */
import type { Logger } from "../../log/logger.js";
import { QUANTITIES, type Quantity, type Reading } from "../../../modules/observation/record.js";
import type { ObservationStore } from "../store/observation-store.js";
import type { LoopTurns } from "./loop-turns.js";
import type { EventResult } from "./xs/protocol.js";

/**
 * Longest a finished delivery waits for its commit: the latency of a rule's outputs and verdicts, against
 * transactions and WAL pages per second (a rule's whole state is written with each commit, and every byte is one
 * more for the next device group commit's fsync, which its PUBACKs wait on): two deliveries of a paced rule.
 */
export const COMMIT_INTERVAL_MS = 200;
/**
 * Rows one commit of a rule's writes in a turn of the event loop at most (derived observations, alerts, kept-local
 * rows, the state's 4 KB pages), but always one delivery whole: a derived observation costs about 25 µs (measured on
 * a shared machine), so a piece stays under a millisecond.
 */
export const MAX_ROWS_PER_COMMIT = 32;
/** The share of the interval a round's pieces are spread over: they end before the next round is due, so a round of many pieces does not push the next one back. */
export const ROUND_SPREAD_SHARE = 0.75;
/** No longer than this between two pieces of a round, whatever the round holds: its last outputs wait for it. */
export const MAX_PIECE_SPACING_MS = 20;
/** Events queued at most before rules wait for a commit. */
export const MAX_QUEUED_EVENTS = 10_000;

export interface RuleCommit {
  rule: string;
  version: number;
  results: EventResult[];
  /** The state after the delivery, and the last observation id it finished. */
  state: string;
  position: number;
  /** Events the delivery ran. */
  events: number;
  /** Told once the commit is durable. */
  committed(): void;
}

export interface CommitHooks {
  /** Ids of observations whose keep-local verdict came after the relay had already sent them (rules/relay-verdicts.ts). */
  isLate(observationId: number): boolean;
  /** After each commit: what it stored. */
  onCommitted(summary: { derived: number; keptLocal: number; alerts: number }): void;
}

/** A derived value rounded to its quantity's resolution, as a device's record would carry it. */
export function roundReading(reading: Reading): Reading {
  const exponent = QUANTITIES[reading.quantity as Quantity].exponent;
  const mantissa = Math.round(exponent < 0 ? reading.value * 10 ** -exponent : reading.value / 10 ** exponent);
  return { quantity: reading.quantity, value: exponent < 0 ? mantissa / 10 ** -exponent : mantissa * 10 ** exponent };
}

/** The rows a delivery's outputs write. */
function outputRows(commit: RuleCommit): number {
  let rows = 0;
  for (const result of commit.results) rows += result.derived.length + result.alerts.length + (result.keepLocal ? 1 : 0);
  return rows;
}

/** The pages of a rule's state, written once per commit (its last delivery's). */
const statePages = (commit: RuleCommit) => Math.ceil(commit.state.length / 4096);

/** About how many pieces `commits` make: each rule's rows over MAX_ROWS_PER_COMMIT, at least one a rule. */
function piecesOf(commits: readonly RuleCommit[]): number {
  const rows = new Map<string, number>();
  for (const commit of commits) rows.set(commit.rule, (rows.get(commit.rule) ?? 0) + outputRows(commit) + statePages(commit));
  let pieces = 0;
  for (const n of rows.values()) pieces += Math.max(1, Math.ceil(n / MAX_ROWS_PER_COMMIT));
  return Math.max(1, pieces);
}

export class CommitQueue {
  readonly #store: ObservationStore;
  readonly #hooks: CommitHooks;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #turns: LoopTurns;
  #queue: RuleCommit[] = [];
  #events = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** What the round of turns under way commits: what was queued when it began; undefined between rounds. */
  #round: Set<RuleCommit> | undefined;
  /** When the round under way began, and how long its pieces wait for one another. */
  #roundStarted = 0;
  #spacingMs = 0;
  #pieceTimer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #commits = 0;
  readonly #waiting = new Set<() => void>();

  constructor(store: ObservationStore, hooks: CommitHooks, logger: Logger, now: () => number, turns: LoopTurns) {
    this.#store = store;
    this.#hooks = hooks;
    this.#log = logger;
    this.#now = now;
    this.#turns = turns;
  }

  get full(): boolean {
    return this.#events >= MAX_QUEUED_EVENTS;
  }

  get stats(): { commits: number; commitFailures: number; queuedEvents: number } {
    return { commits: this.#commits, commitFailures: this.#failures, queuedEvents: this.#events };
  }

  add(commit: RuleCommit): void {
    this.#queue.push(commit);
    this.#events += Math.max(1, commit.events);
    if (this.#round === undefined) this.#later(COMMIT_INTERVAL_MS);
  }

  /** Calls `wake` once the queue has room again. */
  whenRoom(wake: () => void): void {
    this.#waiting.add(wake);
  }

  /** Commits everything queued now, in one transaction (a hand-over or a stop waits for this). False when the store refused (kept for the next try). */
  flush(): boolean {
    this.#stopRound();
    return this.#commit(this.#queue);
  }

  /** Drops what a rule queued (it is being removed from the engine). */
  close(): void {
    this.#stopRound();
  }

  /** No round under way and none due (a piece already in its turn finds no round and does nothing). */
  #stopRound(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearTimeout(this.#pieceTimer);
    this.#pieceTimer = undefined;
    this.#round = undefined;
  }

  #later(ms: number): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#round = new Set(this.#queue);
      this.#roundStarted = performance.now();
      this.#spacingMs = Math.min(MAX_PIECE_SPACING_MS, (COMMIT_INTERVAL_MS * ROUND_SPREAD_SHARE) / piecesOf(this.#queue));
      this.#turns.run(() => this.#commitPiece());
    }, ms);
  }

  /** The round's next piece: in the next turn when the round is behind its spread, else once its spacing has passed. */
  #nextPiece(): void {
    if (this.#spacingMs < 1) return this.#turns.run(() => this.#commitPiece());
    this.#pieceTimer = setTimeout(() => {
      this.#pieceTimer = undefined;
      this.#turns.run(() => this.#commitPiece());
    }, this.#spacingMs);
  }

  /**
   * One turn of a round: the oldest of the round's deliveries of one rule, up to MAX_ROWS_PER_COMMIT rows, in a
   * transaction of their own (their outputs with the offset of the last of them, as one), so the event loop is
   * held for that long, not for ten rules' commits; the next piece in the next turn.
   */
  #commitPiece(): void {
    const round = this.#round;
    if (round === undefined) return;
    const first = this.#queue.find((commit) => round.has(commit));
    if (first === undefined || !this.#store.isOpen) {
      this.#round = undefined;
      // The next round COMMIT_INTERVAL_MS after this one began: spreading its pieces adds no latency to outputs.
      if (this.#queue.length > 0) this.#later(Math.max(0, COMMIT_INTERVAL_MS - (performance.now() - this.#roundStarted)));
      return;
    }
    const piece: RuleCommit[] = [];
    let outputs = 0;
    for (const commit of this.#queue) {
      if (commit.rule !== first.rule || !round.has(commit)) continue;
      if (piece.length > 0 && outputs + outputRows(commit) + statePages(commit) > MAX_ROWS_PER_COMMIT) break;
      piece.push(commit);
      outputs += outputRows(commit);
    }
    for (const commit of piece) round.delete(commit);
    if (this.#commit(piece)) this.#nextPiece();
    else this.#round = undefined;
  }

  /** Commits `commits` (all queued, or one rule's, in queue order) in one transaction; they leave the queue once committed. */
  #commit(commits: readonly RuleCommit[]): boolean {
    if (commits.length === 0 || !this.#store.isOpen) return commits.length === 0;
    const summary = { derived: 0, keptLocal: 0, alerts: 0 };
    const at = this.#now();
    try {
      // No sync of its own: the next group commit's sync (store.sync) takes it to disk, and what a power cut takes
      // back before that is redone from the rule's last durable offset, the same way (see README).
      this.#store.transaction(() => {
        const last = new Map<string, RuleCommit>();
        for (const commit of commits) {
          this.#apply(commit, at, summary);
          last.set(commit.rule, commit);
        }
        // A rule's offset and state once per transaction, its last delivery's: a state is up to stateBytes, and every
        // byte written here is one more for the next device group commit's sync, which its PUBACKs wait on.
        for (const commit of last.values()) this.#store.rules.progress(commit.rule, commit.position, commit.state, at);
      });
    } catch (error) {
      this.#failures++;
      this.#log.error(`rules: committing ${commits.length} deliveries failed; retrying`, { error });
      this.#later(COMMIT_INTERVAL_MS * 10);
      return false;
    }
    const done = new Set(commits);
    this.#queue = this.#queue.filter((commit) => !done.has(commit));
    for (const commit of commits) this.#events -= Math.max(1, commit.events);
    this.#commits++;
    for (const commit of commits) commit.committed();
    this.#hooks.onCommitted(summary);
    if (this.full) return true;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const wake of waiting) wake();
    return true;
  }

  #apply(commit: RuleCommit, at: number, summary: { derived: number; keptLocal: number; alerts: number }): void {
    const keep: number[] = [];
    for (const result of commit.results) {
      for (const derived of result.derived) {
        this.#store.rules.appendDerived({ sensorId: derived.sensorId, readings: derived.readings.map(roundReading), time: Math.round(derived.time) }, at, commit.rule);
        summary.derived++;
      }
      if (result.keepLocal && result.observationId !== null && !this.#hooks.isLate(result.observationId)) keep.push(result.observationId);
      for (const alert of result.alerts) {
        const added = this.#store.alerts.add({
          rule: commit.rule,
          key: alert.key,
          active: alert.active,
          idempotencyKey: `${commit.rule}/${alert.n}/${alert.key}`,
          at: alert.at,
          details: JSON.stringify(alert.details),
          createdAt: at,
        });
        if (added) summary.alerts++;
      }
    }
    if (keep.length > 0) summary.keptLocal += this.#store.rules.keepLocal(keep, at).length;
  }
}
