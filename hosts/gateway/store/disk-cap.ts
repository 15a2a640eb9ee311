/*
 * The outbox's disk cap: when the store uses more than `maxBytes`, the
 * oldest observations are deleted, those the cloud already has first, then
 * (counted, and logged with what was lost) the oldest unrelayed ones. The
 * quarantine is capped by rows. Checked after commits, never per row: two
 * pragma reads when under the cap.
 *
 * Eviction goes down to EVICT_TO_FRACTION of the cap, so a full store is
 * not trimmed by a few rows on every commit. How many rows that takes is
 * estimated from the bytes per row (`rowsToEvict`, pure), then measured.
 */
import type { Logger } from "../../log/logger.js";
import type { Eviction, ObservationStore } from "./observation-store.js";

/** 1 GiB: years of one device's observations, months of a few hundred; small beside a gateway's SD card. */
export const DEFAULT_OUTBOX_MAX_BYTES = 1024 ** 3;
/** Evict down to 90% of the cap: one eviction per 10% of cap written, not one per commit. */
export const EVICT_TO_FRACTION = 0.9;
/**
 * Eviction rounds per check. Deleting rows frees table pages at once but
 * index pages only as they empty, so the first estimate may fall short; a
 * few measured rounds correct it without letting one check run long.
 */
export const MAX_EVICTION_ROUNDS = 8;
/** Quarantined payloads kept (each ≤ MAX_QUARANTINED_BYTES plus its reason): about 15 MB at most. */
export const MAX_QUARANTINE_ROWS = 10_000;

/** Rows to delete to bring `usedBytes` down to `targetBytes`, if rows are about equal in size; at least 1 when over. */
export function rowsToEvict(usedBytes: number, targetBytes: number, rows: number): number {
  if (usedBytes <= targetBytes || rows <= 0) return 0;
  return Math.max(1, Math.ceil((rows * (usedBytes - targetBytes)) / usedBytes));
}

export interface DiskCapCounters {
  evictedRelayed: number;
  evictedUnrelayed: number;
  quarantineEvicted: number;
}

export interface DiskCapOptions {
  store: ObservationStore;
  logger: Logger;
  maxBytes?: number;
  maxQuarantineRows?: number;
}

export class DiskCap {
  readonly maxBytes: number;
  readonly #store: ObservationStore;
  readonly #log: Logger;
  readonly #maxQuarantineRows: number;
  readonly #counters: DiskCapCounters = { evictedRelayed: 0, evictedUnrelayed: 0, quarantineEvicted: 0 };

  constructor(options: DiskCapOptions) {
    this.#store = options.store;
    this.#log = options.logger;
    this.maxBytes = options.maxBytes ?? DEFAULT_OUTBOX_MAX_BYTES;
    if (!(this.maxBytes > 0)) throw new RangeError(`outboxMaxBytes must be positive, got ${this.maxBytes}`);
    this.#maxQuarantineRows = options.maxQuarantineRows ?? MAX_QUARANTINE_ROWS;
  }

  /**
   * Evicts what the cap requires. Returns the unrelayed rows evicted (the
   * outbox's depth drops by that many). `quarantined`: whether the commits
   * since the last check added to the quarantine.
   */
  enforce(quarantined: boolean): number {
    if (quarantined) {
      const evicted = this.#store.capQuarantine(this.#maxQuarantineRows);
      if (evicted > 0) {
        this.#counters.quarantineEvicted += evicted;
        this.#log.debug(`quarantine over ${this.#maxQuarantineRows} rows: evicted the oldest ${evicted}`, { evicted });
      }
    }
    let used = this.#store.usedBytes();
    if (used <= this.maxBytes) return 0;
    const startBytes = used;
    const target = Math.floor(this.maxBytes * EVICT_TO_FRACTION);
    const total: Eviction = { relayed: 0, unrelayed: 0, lost: [] };
    for (let round = 0; round < MAX_EVICTION_ROUNDS && used > target; round++) {
      const rows = rowsToEvict(used, target, this.#store.observationIdSpan());
      if (rows === 0) break;
      const eviction = this.#store.evictOldest(rows);
      if (eviction.relayed + eviction.unrelayed === 0) break;
      total.relayed += eviction.relayed;
      total.unrelayed += eviction.unrelayed;
      total.lost.push(...eviction.lost);
      used = this.#store.usedBytes();
    }
    this.#counters.evictedRelayed += total.relayed;
    this.#counters.evictedUnrelayed += total.unrelayed;
    const fields = { maxBytes: this.maxBytes, usedBytesBefore: startBytes, usedBytes: used, evictedRelayed: total.relayed, evictedUnrelayed: total.unrelayed };
    if (total.unrelayed > 0) {
      const lost = mergeRanges(total.lost);
      const named = lost.map((r) => `${r.sensorId} seq ${r.firstSeq}..${r.lastSeq} (${r.count})`).join(", ");
      this.#log.warn(
        `outbox over its disk cap (${startBytes} of ${this.maxBytes} bytes): evicted ${total.relayed} relayed and ${total.unrelayed} UNRELAYED observations, lost: ${named}`,
        { ...fields, lost },
      );
    } else {
      this.#log.info(`outbox over its disk cap (${startBytes} of ${this.maxBytes} bytes): evicted ${total.relayed} relayed observations`, fields);
    }
    if (used > this.maxBytes) {
      this.#log.warn(`outbox still over its disk cap after eviction (${used} of ${this.maxBytes} bytes)`, fields);
    }
    return total.unrelayed;
  }

  counters(): DiskCapCounters {
    return { ...this.#counters };
  }
}

/** One range per sensor across eviction rounds (a round's ranges are already one per sensor). */
function mergeRanges(ranges: Eviction["lost"]): Eviction["lost"] {
  const bySensor = new Map<string, Eviction["lost"][number]>();
  for (const r of ranges) {
    const seen = bySensor.get(r.sensorId);
    if (seen === undefined) bySensor.set(r.sensorId, { ...r });
    else {
      seen.firstSeq = Math.min(seen.firstSeq, r.firstSeq);
      seen.lastSeq = Math.max(seen.lastSeq, r.lastSeq);
      seen.count += r.count;
    }
  }
  return [...bySensor.values()];
}
