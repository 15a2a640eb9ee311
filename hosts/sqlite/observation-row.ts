/*
 * An observation's columns, as the gateway's and the cloud's stores both keep
 * them, and the one way back from a row to the record's form.
 */
import type { Reading, TimedObservation } from "../../modules/observation/record.js";

export interface ObservationColumns {
  sensor_id: string;
  seq: number;
  boot: number;
  uptime_ms: number;
  /** JSON of the readings. */
  readings: string;
  time: number | null;
  time_source: "device" | "gateway" | null;
}

export function observationFromRow(row: ObservationColumns): TimedObservation {
  const obs: TimedObservation = {
    sensorId: row.sensor_id,
    seq: row.seq,
    boot: row.boot,
    uptimeMs: row.uptime_ms,
    readings: JSON.parse(row.readings) as Reading[],
  };
  if (row.time !== null) obs.time = row.time;
  if (row.time_source !== null) obs.timeSource = row.time_source;
  return obs;
}
