/*
 * The one count of the gateway's store, at open, that its in-memory tally
 * (tally.ts) starts from. It reads every row once (the untimed rows
 * have no index) and the (sensor_id, seq) index once: about a quarter of a
 * second per million rows here, several seconds for a full 1 GiB store on a
 * Raspberry Pi. Paid once per start, instead of on every dashboard poll and
 * /metrics scrape.
 */
import type Database from "better-sqlite3";
import { statSync } from "node:fs";
import type { Logger } from "../../log/logger.js";
import { StoreTally, type SensorTally, type TallyCounts } from "./tally.js";

/** A count at open slower than this is logged (at info): a start that pauses for it should say why. */
export const SLOW_TALLY_SCAN_MS = 1000;

export function scanTally(db: Database.Database, logger?: Logger): StoreTally {
  const started = performance.now();
  const one = (sql: string) => (db.prepare<[], { n: number }>(sql).get() as { n: number }).n;
  // Grouping walks the (sensor_id, seq) index alone: it holds each row's id as well.
  const sensors = db
    .prepare<[], { sensorId: string } & SensorTally>(
      `SELECT sensor_id AS sensorId, COUNT(*) AS observations, MAX(seq) AS lastSeq, MAX(id) AS lastId
       FROM observations GROUP BY sensor_id`,
    )
    .all();
  const tally = StoreTally.fromScan({
    sensors,
    unrelayed: one("SELECT COUNT(*) AS n FROM observations WHERE relayed_at IS NULL"),
    untimed: one("SELECT COUNT(*) AS n FROM observations WHERE time IS NULL"),
    anchors: one("SELECT COUNT(*) AS n FROM clock_anchors"),
    rejected: one("SELECT COUNT(*) AS n FROM rejected"),
  });
  const ms = Math.round(performance.now() - started);
  if (ms > SLOW_TALLY_SCAN_MS) {
    const counts = tally.counts();
    logger?.info(`counted the store at open in ${ms} ms (${counts.observations} observations of ${sensors.length} sensors)`, {
      ms,
      sensors: sensors.length,
      ...counts,
    });
  }
  return tally;
}

/** One line at open saying what the store holds, so an operator sees a start on the wrong (or an emptied) store. */
export function reportContents(logger: Logger, path: string, counts: TallyCounts, lastId: number): void {
  let walBytes = 0;
  try {
    walBytes = statSync(`${path}-wal`).size;
  } catch {
    // no WAL file yet
  }
  logger.info(`${path} holds ${counts.observations} observations (${counts.unrelayed} not yet relayed), last id ${lastId}; WAL ${walBytes} bytes`, {
    path, ...counts, lastId, walBytes,
  });
}
