/*
 * Relays stored observations to the cloud: the thin shell around the state
 * machine in machine.ts. It owns the one timer, the sends in flight (one,
 * or as many as the connector's `maxConcurrentSends` while the relay keeps
 * up), and the store updates; every decision is the machine's.
 *
 * A send reads the oldest unrelayed rows that are not in another send in
 * flight, and leaves out every row of a sensor that has rows in one: each
 * sensor's rows still reach the cloud in seq order, whichever request the
 * cloud handles first and whichever fails.
 *
 * A row is marked relayed only when the cloud's ack names it, so a crash or
 * outage at any point means a resend, never a loss; the cloud's
 * UNIQUE(sensor_id, seq) makes the resend harmless.
 */
import type { Logger } from "../../log/logger.js";
import type { CloudConnector, ObservationKey, RelayedObservation } from "./connector.js";
import type { RelayGate } from "./relay-gate.js";
import type { ObservationStore, StoredObservation } from "../store/observation-store.js";
import { INITIAL_RELAY_STATE, nextRelay, type RelayEvent, type RelayPhase, type RelayPolicy, type RelayState } from "./machine.js";

export interface RelayOptions {
  store: ObservationStore;
  connector: CloudConnector;
  logger: Logger;
  /** Observations per request; DEFAULT_BATCH_SIZE by default. */
  batchSize?: number;
  intervalMs?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  now?: () => number;
  /** Called with how many rows each ack marked relayed (the outbox keeps its depth with it). */
  onRelayed?: (count: number) => void;
  /** Rows that wait for a gateway rule's verdict (rules/relay-verdicts.ts); all rows go at once without it. */
  gate?: RelayGate;
}

export interface RelayStats {
  state: RelayPhase;
  connector: string;
  /** Observations the cloud has acknowledged through this relay. */
  relayed: number;
  /** Requests that were acknowledged. */
  batches: number;
  /** Requests that failed (or were only partly acknowledged). */
  failures: number;
  consecutiveFailures: number;
  /** Stored observations not yet acknowledged by the cloud; -1 once the store is closed. */
  backlog: number;
  lastError: string | null;
}

export const DEFAULT_RELAY_POLICY: RelayPolicy = Object.freeze({ intervalMs: 1000, retryInitialMs: 500, retryMaxMs: 30_000 });
/** Observations per request: about 75 kB of JSON; fewer, larger requests and marks keep up with tens of thousands a second. */
export const DEFAULT_BATCH_SIZE = 500;

function keyOf(sensorId: string, seq: number): string {
  return `${sensorId}\u0000${seq}`;
}

/** A stored row as the cloud gets it. Field by field: object spread costs V8 far more, once per observation relayed. */
function relayed(row: StoredObservation): RelayedObservation {
  const o = row.observation;
  const out: RelayedObservation = { sensorId: o.sensorId, seq: o.seq, boot: o.boot, uptimeMs: o.uptimeMs, readings: o.readings, receivedAt: row.receivedAt };
  if (o.time !== undefined) out.time = o.time;
  if (o.timeSource !== undefined) out.timeSource = o.timeSource;
  return out;
}

/** The rows of a batch that an ack names, each once however often the ack names it; keys of other rows are ignored. */
function ackedRows(rows: readonly StoredObservation[], keys: readonly ObservationKey[]): StoredObservation[] {
  // The usual ack names the whole batch, in order: recognised without building a key per row.
  if (keys.length === rows.length) {
    let i = 0;
    while (i < rows.length && keys[i].sensorId === rows[i].observation.sensorId && keys[i].seq === rows[i].observation.seq) i++;
    if (i === rows.length) return [...rows];
  }
  const rowByKey = new Map(rows.map((row) => [keyOf(row.observation.sensorId, row.observation.seq), row]));
  // A Set, so an ack naming a row twice cannot stand in for one it left out.
  const acked = new Set<StoredObservation>();
  for (const { sensorId, seq } of keys) {
    const row = rowByKey.get(keyOf(sensorId, seq));
    if (row !== undefined) acked.add(row);
  }
  return [...acked];
}

export class Relay {
  readonly #store: ObservationStore;
  readonly #connector: CloudConnector;
  readonly #log: Logger;
  readonly #batchSize: number;
  readonly #policy: RelayPolicy;
  readonly #now: () => number;
  readonly #onRelayed: (count: number) => void;
  readonly #gate: RelayGate | undefined;
  #state: RelayState = INITIAL_RELAY_STATE;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #sends = new Set<Promise<void>>();
  /** Ids of the rows in the sends in flight, and how many of them each sensor has. */
  readonly #sendingIds = new Set<number>();
  readonly #sendingSensors = new Map<string, number>();
  /** A read left rows out because their sensor had rows in a send in flight: the next send back reads again. */
  #heldBack = false;
  #relayed = 0;
  #batches = 0;
  #failures = 0;
  #lastError: string | null = null;

  constructor(options: RelayOptions) {
    this.#store = options.store;
    this.#connector = options.connector;
    this.#log = options.logger;
    this.#batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1) throw new RangeError(`relay batchSize must be a positive integer, got ${this.#batchSize}`);
    this.#policy = {
      intervalMs: options.intervalMs ?? DEFAULT_RELAY_POLICY.intervalMs,
      retryInitialMs: options.retryInitialMs ?? DEFAULT_RELAY_POLICY.retryInitialMs,
      retryMaxMs: options.retryMaxMs ?? DEFAULT_RELAY_POLICY.retryMaxMs,
      window: Math.max(1, Math.floor(options.connector.maxConcurrentSends ?? 1)),
    };
    this.#now = options.now ?? Date.now;
    this.#onRelayed = options.onRelayed ?? (() => {});
    this.#gate = options.gate;
    this.#connector.onLinkUp?.(() => {
      if (this.#state.phase === "backing-off") this.#log.info(`${this.#connector.name} is reachable again: sending now`);
      this.#dispatch({ type: "link-up" });
    });
  }

  /** Starts relaying whatever is already stored. */
  start(): void {
    this.#dispatch({ type: "wake" });
  }

  /** Tells the relay something new was stored. */
  wake(): void {
    this.#dispatch({ type: "wake" });
  }

  stats(): RelayStats {
    let backlog = -1;
    if (this.#store.isOpen) backlog = this.#store.unrelayedCount();
    return {
      state: this.#state.phase,
      connector: this.#connector.name,
      relayed: this.#relayed,
      batches: this.#batches,
      failures: this.#failures,
      consecutiveFailures: this.#state.consecutiveFailures,
      backlog,
      lastError: this.#lastError,
    };
  }

  /** Stops the timer and waits for the requests in flight (whose acks are still recorded). */
  async close(): Promise<void> {
    this.#dispatch({ type: "close" });
    await Promise.all(this.#sends);
  }

  #dispatch(event: RelayEvent): void {
    const { state, effects } = nextRelay(this.#state, event, this.#policy);
    this.#state = state;
    for (const effect of effects) {
      switch (effect.type) {
        case "cancel-wait":
          clearTimeout(this.#timer);
          this.#timer = undefined;
          break;
        case "wait":
          clearTimeout(this.#timer);
          this.#timer = setTimeout(() => {
            this.#timer = undefined;
            this.#dispatch({ type: "timer" });
          }, effect.ms);
          break;
        case "send": {
          const send: Promise<void> = this.#sendBatch().then((next) => {
            this.#sends.delete(send);
            this.#dispatch(next);
          });
          this.#sends.add(send);
          break;
        }
      }
    }
  }

  /** Never rejects: every failure becomes a "failed" event. */
  async #sendBatch(): Promise<RelayEvent> {
    let rows: StoredObservation[] = [];
    try {
      const free = this.#notSending(this.#store.unrelayed(this.#batchSize + this.#sendingIds.size));
      rows = this.#gate ? this.#gate.admit(free, this.#now()) : free;
      // Rows held for a verdict: the next wake (a commit, a rule's verdict) or the idle poll reads them again.
      // Rows held behind a send in flight: that send, once back, reads again (an empty read must not, or it would spin).
      if (rows.length === 0) return { type: "sent", more: false };
      this.#claim(rows, 1);
      const batch = rows.map(relayed);
      const ack = await this.#connector.send(batch);
      const acked = ackedRows(rows, ack.acked);
      // The rows as sent: each keeps the time the cloud got, even if an anchor arrived meanwhile.
      const marked = this.#store.markRelayed(acked, this.#now());
      this.#relayed += marked;
      if (marked > 0) this.#onRelayed(marked);
      if (acked.length < rows.length) {
        // Sending the rest again at once could spin; backing off cannot.
        return this.#failed(new Error(`${this.#connector.name} acknowledged ${acked.length} of ${rows.length} observations`));
      }
      this.#batches++;
      if (this.#state.consecutiveFailures > 0) {
        this.#log.info(`relay recovered after ${this.#state.consecutiveFailures} failed attempts`, { connector: this.#connector.name });
      }
      this.#log.debug("batch relayed", { count: rows.length });
      const held = this.#heldBack;
      this.#heldBack = false;
      return { type: "sent", more: rows.length === this.#batchSize, held };
    } catch (e) {
      return this.#failed(e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.#claim(rows, -1);
    }
  }

  /**
   * Of the oldest unrelayed rows, at most a batch that no send in flight
   * holds, none of a sensor that has rows in one (noted in #heldBack: they
   * go once that send is back).
   */
  #notSending(read: readonly StoredObservation[]): StoredObservation[] {
    if (this.#sendingIds.size === 0) return read.length > this.#batchSize ? read.slice(0, this.#batchSize) : [...read];
    const free: StoredObservation[] = [];
    for (const row of read) {
      if (free.length === this.#batchSize) break;
      if (this.#sendingIds.has(row.id)) continue;
      if (this.#sendingSensors.has(row.observation.sensorId)) this.#heldBack = true;
      else free.push(row);
    }
    return free;
  }

  /** Counts rows into (+1) or out of (-1) the sends in flight. */
  #claim(rows: readonly StoredObservation[], by: 1 | -1): void {
    for (const row of rows) {
      const sensorId = row.observation.sensorId;
      const n = (this.#sendingSensors.get(sensorId) ?? 0) + by;
      if (n > 0) this.#sendingSensors.set(sensorId, n);
      else this.#sendingSensors.delete(sensorId);
      if (by > 0) this.#sendingIds.add(row.id);
      else this.#sendingIds.delete(row.id);
    }
  }

  #failed(error: Error): RelayEvent {
    this.#failures++;
    this.#lastError = error.message;
    this.#log.warn(`relay to ${this.#connector.name} failed (attempt ${this.#state.consecutiveFailures + 1}): ${error.message}`, {
      connector: this.#connector.name,
      error,
    });
    return { type: "failed" };
  }
}
