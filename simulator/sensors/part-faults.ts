/*
 * Faults of a part on the bus, put between the bus and any register-level
 * model (ours or a user's): transfers not acknowledged (at random, or all of
 * them while the part is disconnected) and corrupted results. A stuck value
 * is the signal's business (part-signals.ts); a bad CRC is the model's,
 * which knows where its checksum is (`corruptNext`). Draws are seeded and
 * counted per part, so a virtual-time run repeats exactly.
 *
 * Pure, XS built-ins only (it runs in the fleet worker too).
 */
import type { I2cTarget } from "../engine/i2c-bus.js";
import { uniform } from "./signal.js";

export interface FaultSpec {
  /** Probability (0 to 1) that a transfer is not acknowledged: a flaky bus or connector. */
  nack?: number;
  /** The part is off the bus: nothing is acknowledged. */
  disconnected?: boolean;
  /** Probability that a measurement's checksum is wrong (parts with a CRC: SHT3x). */
  badCrc?: number;
  /** Probability that a read returns its last byte corrupted (any part; for one without a CRC, a wrong value). */
  corrupt?: number;
  /** The part keeps reporting the values it had when the fault began. */
  stuck?: boolean;
}

export interface FaultCounts {
  nacks: number;
  badCrcs: number;
  corrupted: number;
}

export class FaultyPart implements I2cTarget {
  faults: FaultSpec = {};
  readonly counts: FaultCounts = { nacks: 0, badCrcs: 0, corrupted: 0 };
  readonly #target: I2cTarget;
  readonly #seed: number;
  readonly #stream: number;
  readonly #corruptNext: (() => void) | undefined;
  #draws = 0;

  /** `corruptNext` makes the model's next result fail its checksum; without it a bad CRC corrupts the read instead. */
  constructor(target: I2cTarget, seed: number, stream: number, corruptNext?: () => void) {
    this.#target = target;
    this.#seed = seed;
    this.#stream = stream;
    this.#corruptNext = corruptNext;
  }

  write(bytes: Uint8Array, stop: boolean): boolean {
    if (this.#refuses()) return false;
    if (this.#corruptNext && this.#happens(this.faults.badCrc)) {
      this.counts.badCrcs++;
      this.#corruptNext();
    }
    return this.#target.write(bytes, stop);
  }

  read(count: number, stop: boolean): Uint8Array | undefined {
    if (this.#refuses()) return undefined;
    const data = this.#target.read(count, stop);
    const corrupt = this.#happens(this.faults.corrupt) || (!this.#corruptNext && this.#happens(this.faults.badCrc));
    if (!data || data.byteLength === 0 || !corrupt) return data;
    this.counts.corrupted++;
    const copy = data.slice();
    copy[copy.byteLength - 1] ^= 0x01;
    return copy;
  }

  #refuses(): boolean {
    if (this.faults.disconnected || this.#happens(this.faults.nack)) {
      this.counts.nacks++;
      return true;
    }
    return false;
  }

  #happens(probability: number | undefined): boolean {
    if (!(probability! > 0)) return false;
    return uniform(this.#seed, this.#stream, this.#draws++) < probability!;
  }
}
