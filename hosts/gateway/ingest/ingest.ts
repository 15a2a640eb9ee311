/*
 * What the gateway does with one MQTT PUBLISH: store an observation (timed
 * by its boot's clock anchor when one is known), record a clock anchor,
 * recognise a retry, or refuse it (quarantined, counted, logged). No sockets
 * here; the broker submits publishes to the outbox (outbox.ts), whose group
 * commit (queue.ts) stages many in one transaction with `stageAll` and
 * settles them once it commits; `handle` is the one-publish path. Every
 * outcome but "failed" is committed before it is returned.
 *
 * The decisions (`classify` in uplink-classification.ts, and ../store/clock-map.ts) are pure; `Ingest` adds the effects.
 */
import type { ClockAnchor, Observation, TimedObservation } from "../../../modules/observation/record.js";
import type { Logger } from "../../log/logger.js";
import { anchorEstimate, withTime, type AnchorDecision, type BootAnchor } from "../store/clock-map.js";
import type { AppendOutcome, ObservationStore } from "../store/observation-store.js";
import { CommitFailures, type CommitFailure } from "./commit-failures.js";
import { RefusalLog } from "./refusal-log.js";
import { checkPublisher, classify, REFUSAL_REASONS, refuse, type Classification, type Refusal, type RefusalReason } from "./uplink-classification.js";

export { COMMIT_FAILURE_LOG_INTERVAL_MS, type CommitFailure } from "./commit-failures.js";
export { checkPublisher, classify, REFUSAL_REASONS, uplinkTopic, type Classification, type Refusal, type RefusalReason } from "./uplink-classification.js";

export type IngestOutcome =
  | { kind: "stored"; observation: TimedObservation }
  | { kind: "duplicate"; observation: Observation }
  /** A batch of observations, committed together; `conflicts` were refused (seq-conflict) and quarantined. */
  | { kind: "batch"; stored: number; duplicate: number; conflicts: number }
  /** A clock anchor, adopted, replacing the boot's, or kept out; `filled`/`corrected` rows were timed by it. */
  | { kind: "anchor"; anchor: BootAnchor; decision: AnchorDecision; filled: number; corrected: number }
  | Refusal
  /** The store could not commit: the publish must not be acknowledged, so the device keeps it and retries. */
  | { kind: "failed"; error: Error };

/** A publish written into an open transaction: its outcome, and `settle` to count and log it once committed. */
export interface StagedPublish {
  outcome: IngestOutcome;
  settle(): void;
}

export interface PublishInput {
  topic: string;
  payload: Uint8Array;
  /** Null for a will published after its client has gone. */
  clientId: string | null;
  /**
   * The sensor id the publisher authenticated as (its MQTT username): records
   * for any other sensor are refused as "wrong-sensor". Null when no
   * authenticated client stands behind the publish (refused likewise);
   * undefined when the broker does not authenticate (no check).
   */
  authenticatedAs?: string | null;
}

export interface IngestCounters {
  stored: number;
  duplicate: number;
  refused: number;
  failed: number;
  refusedByReason: Record<RefusalReason, number>;
  /** Observations stored without a time: no anchor for their boot had arrived. */
  untimed: number;
  anchors: { adopted: number; replaced: number; kept: number };
  /** Stored rows that a later anchor gave a time. */
  timeFilled: number;
  /** Unrelayed rows whose time a better anchor changed. */
  timeCorrected: number;
}

export interface IngestOptions {
  store: ObservationStore;
  logger: Logger;
  /** The gateway's clock: receive times, and the wall time a null anchor stands for. */
  now?: () => number;
}

export class Ingest {
  readonly #store: ObservationStore;
  readonly #log: Logger;
  readonly #now: () => number;
  // One line per client and reason per interval: a flood of bad publishes is counted, not written out one by one.
  readonly #refusals: RefusalLog;
  readonly #commitFailures: CommitFailures;
  readonly #counters: IngestCounters = {
    stored: 0,
    duplicate: 0,
    refused: 0,
    failed: 0,
    refusedByReason: Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>,
    untimed: 0,
    anchors: { adopted: 0, replaced: 0, kept: 0 },
    timeFilled: 0,
    timeCorrected: 0,
  };

  constructor(options: IngestOptions) {
    this.#store = options.store;
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
    this.#refusals = new RefusalLog(this.#log, this.#now);
    this.#commitFailures = new CommitFailures(this.#log);
  }

  /** The one-publish path: stages it in its own transaction, then counts and logs it. */
  handle(input: PublishInput): IngestOutcome {
    let staged: StagedPublish;
    try {
      staged = this.#store.transaction(() => this.stage(input));
    } catch (e) {
      return this.fail(input, e);
    }
    this.committed();
    staged.settle();
    return staged.outcome;
  }

  /** A transaction of publishes committed: the store takes commits again. */
  committed(): void {
    this.#commitFailures.committed();
  }

  /** A committed group could not be synced to disk: health says so until a sync succeeds. */
  syncFailed(error: Error): void {
    this.#commitFailures.syncFailed(error, this.#now());
  }

  /** A committed group is on disk. */
  synced(): void {
    this.#commitFailures.synced();
  }

  /** Since when the store has been failing to commit or to sync, or null. */
  commitFailure(): CommitFailure | null {
    return this.#commitFailures.current;
  }

  /**
   * Writes one publish's effects into the store, to be run inside the
   * caller's transaction (queue.ts puts many in one commit). Nothing
   * is counted or logged until the caller, once the transaction has
   * committed, calls `settle`: the counters describe committed work only.
   * Throws if the store does; the caller's transaction then rolls back.
   */
  stage(input: PublishInput): StagedPublish {
    const receivedAt = this.#now();
    return this.#staged(input, checkPublisher(classify(input.topic, input.payload), input.authenticatedAs), receivedAt);
  }

  #staged(input: PublishInput, decision: Classification, receivedAt: number): StagedPublish {
    if (decision.kind === "refused") return this.#refuse(input, decision, receivedAt);
    const { record } = decision;
    if (record.kind === "clock") return this.#anchor(input, record.anchor, receivedAt);
    if (record.kind === "batch") return this.#batch(input, record.observations, receivedAt);
    return this.#observation(input, record.observation, receivedAt);
  }

  /**
   * `stage` for each of a group's publishes in turn, with their single
   * observations stored many to an INSERT (store.appendAll): the same
   * effects and outcomes, at less CPU per row. Each run of observations is
   * stored before any other record is staged, so an anchor still times
   * exactly the rows that came before it, and a run looks anchors up after
   * every anchor before it.
   */
  stageAll(inputs: readonly PublishInput[]): StagedPublish[] {
    const staged: StagedPublish[] = new Array(inputs.length);
    let run: { at: number[]; observations: Observation[]; timed: TimedObservation[]; receivedAt: number[] } = { at: [], observations: [], timed: [], receivedAt: [] };
    const storeRun = () => {
      if (run.at.length === 0) return;
      const appended = this.#store.appendAll(run.timed, run.receivedAt);
      for (let k = 0; k < run.at.length; k++) {
        const i = run.at[k];
        staged[i] = this.#observed(inputs[i], run.observations[k], run.timed[k], appended[k], run.receivedAt[k]);
      }
      run = { at: [], observations: [], timed: [], receivedAt: [] };
    };
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      const receivedAt = this.#now();
      const decision = checkPublisher(classify(input.topic, input.payload), input.authenticatedAs);
      if (decision.kind === "valid" && decision.record.kind === "observation") {
        const { observation } = decision.record;
        run.at.push(i);
        run.observations.push(observation);
        run.timed.push(withTime(observation, this.#store.anchor(observation.sensorId, observation.boot)));
        run.receivedAt.push(receivedAt);
        continue;
      }
      storeRun();
      staged[i] = this.#staged(input, decision, receivedAt);
    }
    storeRun();
    return staged;
  }

  /** Counts and logs a publish that could not be committed; the device must not get a PUBACK. */
  fail(input: PublishInput, cause: unknown): IngestOutcome {
    const error = cause instanceof Error ? cause : new Error(String(cause));
    this.#counters.failed++;
    this.#commitFailures.failed(error, input, this.#now());
    return { kind: "failed", error };
  }

  /** A snapshot; callers may keep it. */
  counters(): IngestCounters {
    const c = this.#counters;
    return { ...c, refusedByReason: { ...c.refusedByReason }, anchors: { ...c.anchors } };
  }

  #observation(input: PublishInput, observation: Observation, receivedAt: number): StagedPublish {
    const { sensorId, boot } = observation;
    // Read and written in the same synchronous turn: no anchor can slip in between.
    const timed = withTime(observation, this.#store.anchor(sensorId, boot));
    return this.#observed(input, observation, timed, this.#store.append(timed, receivedAt), receivedAt);
  }

  /** What storing one observation came to, as staged: a conflict is refused (and quarantined). */
  #observed(input: PublishInput, observation: Observation, timed: TimedObservation, appended: AppendOutcome, receivedAt: number): StagedPublish {
    const { sensorId, seq } = observation;
    if (appended === "conflict") {
      const refusal = refuse("seq-conflict", "seq", `${sensorId} seq ${seq} is already stored with different content`);
      return this.#refuse(input, refusal, receivedAt);
    }
    const settle = () => {
      this.#counters[appended]++;
      if (appended === "stored" && timed.time === undefined) this.#counters.untimed++;
      this.#log.debug(appended === "stored" ? "observation stored" : "duplicate observation (device retry)", {
        clientId: input.clientId,
        sensorId,
        seq,
        timeSource: timed.timeSource ?? null,
      });
    };
    return { outcome: appended === "stored" ? { kind: "stored", observation: timed } : { kind: "duplicate", observation }, settle };
  }

  /**
   * Every observation of a batch is stored in one transaction, committed
   * before the PUBACK. A retried batch is all duplicates; an observation
   * whose (sensor, seq) holds other content is refused on its own, and the
   * rest of the batch is kept.
   */
  #batch(input: PublishInput, observations: Observation[], receivedAt: number): StagedPublish {
    // A savepoint inside the caller's transaction: the batch is still all or nothing.
    const { stored, duplicate, untimed, conflicts } = this.#store.transaction(() => {
      const tally = { stored: 0, duplicate: 0, untimed: 0, conflicts: [] as number[] };
      observations.forEach((observation, index) => {
        const timed = withTime(observation, this.#store.anchor(observation.sensorId, observation.boot));
        const appended = this.#store.append(timed, receivedAt);
        if (appended === "conflict") tally.conflicts.push(index);
        else {
          tally[appended]++;
          if (appended === "stored" && timed.time === undefined) tally.untimed++;
        }
      });
      return tally;
    });
    let refusal: StagedPublish | undefined;
    if (conflicts.length > 0) {
      const first = observations[conflicts[0]];
      refusal = this.#refuse(input, refuse("seq-conflict", `observations[${conflicts[0]}].seq`,
        `${conflicts.length} of ${observations.length} observations already stored with different content (first: ${first.sensorId} seq ${first.seq})`), receivedAt);
    }
    const settle = () => {
      this.#counters.stored += stored;
      this.#counters.duplicate += duplicate;
      this.#counters.untimed += untimed;
      if (refusal !== undefined) {
        refusal.settle();
        // The refusal counted the publish once; each further conflicting observation counts too.
        this.#counters.refused += conflicts.length - 1;
        this.#counters.refusedByReason["seq-conflict"] += conflicts.length - 1;
      }
      this.#log.debug("batch stored", { clientId: input.clientId, sensorId: observations[0].sensorId, stored, duplicate, conflicts: conflicts.length });
    };
    return { outcome: { kind: "batch", stored, duplicate, conflicts: conflicts.length }, settle };
  }

  #anchor(input: PublishInput, record: ClockAnchor, receivedAt: number): StagedPublish {
    const estimate = anchorEstimate(record, receivedAt);
    if (!estimate.ok) return this.#refuse(input, refuse(estimate.reason, estimate.field, estimate.detail), receivedAt);
    const { anchor } = estimate;
    const { decision, filled, corrected } = this.#store.recordAnchor(anchor);
    const settle = () => {
      this.#counters.anchors[decision === "adopt" ? "adopted" : decision === "replace" ? "replaced" : "kept"]++;
      this.#counters.timeFilled += filled;
      this.#counters.timeCorrected += corrected;
      const fields = { clientId: input.clientId, sensorId: anchor.sensorId, boot: anchor.boot, source: anchor.source, offsetMs: anchor.offsetMs };
      if (decision === "keep") {
        this.#log.debug("clock anchor not used: the boot keeps its anchor", fields);
      } else {
        // One line per boot (two at most): worth seeing in an operator's log.
        this.#log.info(`clock anchor ${decision === "adopt" ? "adopted" : "replaced"} for ${anchor.sensorId} boot ${anchor.boot} (${anchor.source})`, {
          ...fields,
          filled,
          corrected,
        });
      }
    };
    return { outcome: { kind: "anchor", anchor, decision, filled, corrected }, settle };
  }

  #refuse(input: PublishInput, refusal: Refusal, receivedAt: number): StagedPublish {
    const quarantineId = this.#store.quarantine({
      receivedAt,
      clientId: input.clientId,
      topic: input.topic,
      reason: refusal.reason,
      field: refusal.field,
      detail: refusal.detail,
      payload: input.payload,
    });
    const settle = () => {
      this.#counters.refused++;
      this.#counters.refusedByReason[refusal.reason]++;
      this.#refusals.warn(input.clientId, refusal.reason, `refused publish from ${input.clientId ?? "(will)"}: ${refusal.reason} (${refusal.field}): ${refusal.detail}`, {
        clientId: input.clientId,
        topic: input.topic.slice(0, 256),
        reason: refusal.reason,
        field: refusal.field,
        bytes: input.payload.byteLength,
        quarantineId,
      });
    };
    return { outcome: refusal, settle };
  }
}
