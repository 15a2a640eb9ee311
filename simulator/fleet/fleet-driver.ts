/*
 * What drives a fleet: its clock and its network. Real time steps each
 * worker against the machine's clock with real sockets (realtime-driver.ts);
 * virtual time steps all workers in lockstep against a virtual clock and a
 * simulated network and gateway (virtual-driver.ts).
 */
import type { StepResult } from "../engine/fleet-worker.js";
import type { LinkConditions } from "../network/link-conditions.js";
import type { Lateness } from "./fleet-stats.js";
import type { FleetEngine } from "./fleet-engine.js";

export interface StepHooks {
  /** Just before a worker steps: the engine queues what may go in now (paced boots). */
  beforeStep(worker: number): void;
  afterStep(worker: number, result: StepResult): void;
}

export interface FleetDriver {
  /**
   * Outputs of a step are held and handed on in order of (time, device)
   * once every worker has stepped (engine.flushOutputs), so how devices are
   * split between workers changes nothing: virtual time's determinism.
   */
  readonly ordersOutputs?: boolean;
  /** The fleet's clock, ms. */
  now(): number;
  attach(engine: FleetEngine, hooks: StepHooks): void;
  /** Inputs are queued for this worker. */
  wake(worker: number): void;
  /** Resolves once every input queued so far has been handled. */
  settled(): Promise<void>;
  /** Per worker, how late steps began after the deadlines they were due for. */
  lateness(): Lateness[];
  stop(): Promise<void>;
}

/** The devices' side of their sockets: where their bytes go, and how their links behave. */
export interface FleetNetwork {
  open(device: number, socket: number, address: string, port: number, at: number): void;
  write(device: number, socket: number, bytes: Uint8Array, at: number): void;
  close(device: number, socket: number, at: number): void;
  /** Power off: the device's sockets vanish. */
  closeDevice(device: number, at: number): void;
  closeAll(): void;
  /** After each step: sockets written to hear their windows, paused ones read again. */
  afterStep(): void;
  conditionsOf(device: number): LinkConditions;
  /** A device's link conditions changed (its network cut or restored). */
  conditionsChanged(device: number, at: number): void;
}
