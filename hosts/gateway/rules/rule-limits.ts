/*
 * What a rule may spend, by default and at most (a rule's `limits` may ask
 * for up to the ceiling), and what a rules worker may hold. The gateway's
 * rules.* settings override the defaults and ceilings.
 */
import type { ResolvedLimits } from "./xs/protocol.js";

export const DEFAULT_LIMITS: ResolvedLimits = Object.freeze({
  /** About 10 ms of XS on a desktop core (1 M computrons): a dew point costs a few thousand, a window of averages tens of thousands. */
  computePerEvent: 1_000_000,
  /** Heap growth per delivery: a rule needs little beyond its state. */
  memoryBytes: 16 * 2 ** 20,
  /** State as JSON: windows of a few hundred sensors fit; every delivery commits it. */
  stateBytes: 256 * 2 ** 10,
});

export const MAX_LIMITS: ResolvedLimits = Object.freeze({
  /** About 1 s of XS: an event may not take longer (it holds up the rules sharing its worker). */
  computePerEvent: 100_000_000,
  memoryBytes: 64 * 2 ** 20,
  stateBytes: 4 * 2 ** 20,
});

/**
 * RLIMIT_DATA of a rules worker: an idle XS machine takes about 42 MB of it,
 * so a blow-up can reach about 150 MB before XS stops (exit 11), not the
 * 2 GB of XS's own ceiling.
 */
export const DEFAULT_WORKER_MEMORY_BYTES = 192 * 2 ** 20;
/** A worker whose engine holds more than this after a delivery is replaced (XS does not give memory back). */
export const DEFAULT_WORKER_RECYCLE_BYTES = 128 * 2 ** 20;
