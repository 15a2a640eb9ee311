/*
 * What every rule's runner shares: the store and the input window, its
 * turns on the event loop, the workers, the commit queue, who owns virtual sensors, the log, the clock,
 * the limits and the retry delays. Made once by the engine.
 */
import type { Logger } from "../../log/logger.js";
import type { ObservationStore } from "../store/observation-store.js";
import type { CommitQueue } from "./rule-commits.js";
import type { DerivedSensors } from "./derived-sensors.js";
import type { InputWindow } from "./input-window.js";
import type { LoopTurns } from "./loop-turns.js";
import type { WorkerPool } from "./worker-pool.js";
import type { ResolvedLimits } from "./xs/protocol.js";

export interface RunnerEnv {
  store: ObservationStore;
  /** The devices' observations, read once for all rules. */
  inputs: InputWindow;
  /** The rules' pieces of work on the event loop, one per turn (loop-turns.ts). */
  turns: LoopTurns;
  pool: WorkerPool;
  commits: CommitQueue;
  derived: DerivedSensors;
  log: Logger;
  now(): number;
  limits: { defaults: ResolvedLimits; maxima: ResolvedLimits };
  /** A worker whose engine holds more than this is recycled after the delivery that grew it. */
  workerRecycleBytes: number;
  /** Waits before retrying a rule after its 1st, 2nd, ... fault (fault-policy.ts). */
  retryDelaysMs: readonly number[];
}
