/*
 * The gateway store's clock anchors: the anchor each device boot's times
 * come from (which one is kept is clock-map.ts's decision), and timing a
 * boot's unrelayed rows when its anchor arrives or improves.
 *
 * Every observation looks up its boot's anchor before it is stored, so the
 * anchors are cached in memory, misses included. The store's connection is
 * the only writer of the table, so the cache is exact as long as it is
 * forgotten whenever a transaction that may have written it rolls back
 * (ObservationStore calls `forgetCached`).
 */
import type Database from "better-sqlite3";
import { chooseAnchor, type AnchorDecision, type BootAnchor } from "./clock-map.js";
import { toAnchor, type AnchorRow } from "./schema.js";
import type { TimeSource } from "../../../modules/observation/observation-json.js";

/**
 * Boots whose anchor (or its absence) is cached; past this the cache starts
 * over. A boot is one entry of about 200 bytes, and a gateway sees one or
 * two per device at a time: 10,000 covers thousands of devices in a few MB.
 */
export const MAX_CACHED_ANCHORS = 10_000;

/** What `record` did: the decision, and how many unrelayed rows of the boot got a time or a better one. */
export interface AnchorOutcome {
  decision: AnchorDecision;
  /** Rows that had no time and now have one. */
  filled: number;
  /** Rows whose time changed to the new anchor's (a device anchor replacing a gateway one, say). */
  corrected: number;
}

type BootParams = { offset: number; source: TimeSource; sensorId: string; boot: number };

export class BootAnchors {
  readonly #db: Database.Database;
  readonly #get: Database.Statement<[string, number], AnchorRow>;
  readonly #put: Database.Statement<[AnchorRow]>;
  readonly #fill: Database.Statement<[BootParams]>;
  readonly #correct: Database.Statement<[BootParams]>;
  /** sensor id → boot → its anchor, or null for "none stored". */
  #cache = new Map<string, Map<number, BootAnchor | null>>();
  #cached = 0;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#get = db.prepare("SELECT * FROM clock_anchors WHERE sensor_id = ? AND boot = ?");
    this.#put = db.prepare(
      `INSERT OR REPLACE INTO clock_anchors (sensor_id, boot, source, offset_ms, uptime_ms, wall_ms, received_at)
       VALUES (@sensor_id, @boot, @source, @offset_ms, @uptime_ms, @wall_ms, @received_at)`,
    );
    // A device's rows only (derived IS NULL, which lets SQLite use the partial index): a rule's derived rows have no boot to anchor.
    const boot = "sensor_id = @sensorId AND boot = @boot AND relayed_at IS NULL AND derived IS NULL";
    this.#fill = db.prepare(`UPDATE observations SET time = @offset + uptime_ms, time_source = @source WHERE ${boot} AND time IS NULL`);
    this.#correct = db.prepare(
      `UPDATE observations SET time = @offset + uptime_ms, time_source = @source
       WHERE ${boot} AND time IS NOT NULL AND (time != @offset + uptime_ms OR time_source IS NOT @source)`,
    );
  }

  /** The anchor a boot's times come from, if one has arrived. */
  get(sensorId: string, boot: number): BootAnchor | undefined {
    const cached = this.#cache.get(sensorId)?.get(boot);
    if (cached !== undefined) return cached ?? undefined;
    const row = this.#get.get(sensorId, boot);
    const anchor = row && toAnchor(row);
    this.#remember(sensorId, boot, anchor ?? null);
    return anchor;
  }

  /**
   * Offers a boot an anchor and, if it is kept, times the boot's unrelayed
   * rows with it; one transaction (a savepoint inside the caller's).
   * Relayed rows stay as sent.
   */
  record(anchor: BootAnchor): AnchorOutcome {
    try {
      return this.#db.transaction((): AnchorOutcome => {
        const decision = chooseAnchor(this.get(anchor.sensorId, anchor.boot), anchor);
        if (decision === "keep") return { decision, filled: 0, corrected: 0 };
        this.#put.run({
          sensor_id: anchor.sensorId,
          boot: anchor.boot,
          source: anchor.source,
          offset_ms: anchor.offsetMs,
          uptime_ms: anchor.uptimeMs,
          wall_ms: anchor.wallMs,
          received_at: anchor.receivedAt,
        });
        this.#remember(anchor.sensorId, anchor.boot, anchor);
        const params: BootParams = { offset: anchor.offsetMs, source: anchor.source, sensorId: anchor.sensorId, boot: anchor.boot };
        return { decision, filled: this.#fill.run(params).changes, corrected: this.#correct.run(params).changes };
      })();
    } catch (e) {
      this.forgetCached();
      throw e;
    }
  }

  /** A transaction that may have written anchors rolled back: the cache may hold what SQLite no longer does. */
  forgetCached(): void {
    this.#cache = new Map();
    this.#cached = 0;
  }

  #remember(sensorId: string, boot: number, anchor: BootAnchor | null): void {
    if (this.#cached >= MAX_CACHED_ANCHORS && !this.#cache.get(sensorId)?.has(boot)) this.forgetCached();
    let boots = this.#cache.get(sensorId);
    if (boots === undefined) {
      boots = new Map();
      this.#cache.set(sensorId, boots);
    }
    if (!boots.has(boot)) this.#cached++;
    boots.set(boot, anchor);
  }
}
