/*
 * Uplink payloads for gateway tests, built with the record's own encoders.
 */
import { encodeClockAnchor, encodeObservation } from "../../modules/observation/record.js";
import { observation } from "./test-helpers.js";

/** A plausible synced wall clock (November 2026), well past CLOCK_SYNCED_AFTER_MS. */
export const WALL = 1_795_000_000_000;

/** An observation record: boot 1 and uptime seq × 1000 ms unless `boot` says otherwise. */
export function obsPayload(sensorId: string, seq: number, boot = 1, temperature = 21.5): Uint8Array {
  return encodeObservation({ ...observation(sensorId, seq, temperature), boot });
}

/** A clock anchor record: `wallMs` the device's clock, or null for "use the gateway's". */
export function anchorPayload(sensorId: string, boot: number, uptimeMs: number, wallMs: number | null): Uint8Array {
  return encodeClockAnchor({ sensorId, boot, uptimeMs, wallMs });
}
