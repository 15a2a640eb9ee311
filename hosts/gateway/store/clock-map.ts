/*
 * Mapping a device's monotonic clock to wall time: the decisions only, free
 * of I/O (the store persists what they choose, ingest applies them).
 *
 * Each boot of a device has one offset, wall − uptimeMs, from a clock-anchor
 * record. Its source is "device" when the anchor carries the device's synced
 * clock (wallMs), or "gateway" when wallMs is null and the gateway's receive
 * time stands in. An observation's time is offset + uptimeMs.
 *
 * Which anchor a boot keeps (`chooseAnchor`):
 *  - The first anchor for a boot is adopted.
 *  - A device anchor replaces a gateway one: the device read its own clock
 *    at uptimeMs, with no network in between.
 *  - A gateway anchor never replaces a device one.
 *  - Of two gateway anchors, the one with the smaller offset is kept; ties
 *    keep the first. Why: the receive time is always later than the moment
 *    the device stamped uptimeMs (by the network latency, plus any time the
 *    record waited in a queue), so every gateway offset is the true offset
 *    plus a non-negative delay, and the smallest is the least delayed. The
 *    device sends its null anchor first after each connect, so the first is
 *    normally that one; a QoS 1 retry of it (same uptimeMs, later receipt)
 *    or an anchor that sat in a stalled connection gives a larger offset
 *    and is ignored, while a first anchor that was itself delayed is
 *    corrected by the next connect's.
 *  - Of two device anchors, the first is kept. A device writes one per boot,
 *    so a second is a resend (identical) or a re-synced clock; keeping the
 *    first keeps the boot's times on one offset (monotonic, and consistent
 *    with rows already relayed). Correcting drift within a boot is later work.
 *
 * Rows never get an invented time: an anchor the gateway cannot trust
 * (`anchorEstimate` says why) sets nothing, and without an anchor an
 * observation has no time.
 */
import { CLOCK_SYNCED_AFTER_MS, type ClockAnchor, type TimedObservation } from "../../../modules/observation/record.js";
import type { TimeSource } from "../../../modules/observation/observation-json.js";

/**
 * A device clock more than this far ahead of the gateway's is wrong (an RTC
 * that lost power reads garbage); a day leaves room for any honest skew
 * while refusing the year 2106.
 */
export const MAX_DEVICE_CLOCK_AHEAD_MS = 24 * 60 * 60 * 1000;

/** One boot's mapping from uptime to wall time, and where it came from. */
export interface BootAnchor {
  sensorId: string;
  boot: number;
  source: TimeSource;
  /** wall − uptimeMs: add an observation's uptimeMs to get its wall time. */
  offsetMs: number;
  /** The anchor's own uptimeMs and the wall time that stood against it. */
  uptimeMs: number;
  wallMs: number;
  /** Gateway clock when the anchor arrived. */
  receivedAt: number;
}

export type AnchorEstimate =
  | { ok: true; anchor: BootAnchor }
  /** `reason` is the refusal's: "malformed" is the device's fault, "clock-unset" the gateway's. */
  | { ok: false; reason: "malformed" | "clock-unset"; field: string; detail: string };

/** Turns an anchor record into a boot's offset, or says why it cannot be trusted. */
export function anchorEstimate(record: ClockAnchor, receivedAt: number): AnchorEstimate {
  const gatewayClockSet = receivedAt >= CLOCK_SYNCED_AFTER_MS;
  let source: TimeSource;
  let wallMs: number;
  if (record.wallMs === null) {
    if (!gatewayClockSet) {
      return { ok: false, reason: "clock-unset", field: "wallMs", detail: `null asks for the gateway's clock, which is not set (reads ${receivedAt})` };
    }
    source = "gateway";
    wallMs = receivedAt;
  } else {
    if (record.wallMs < CLOCK_SYNCED_AFTER_MS) {
      return { ok: false, reason: "malformed", field: "wallMs", detail: `${record.wallMs} is before CLOCK_SYNCED_AFTER_MS: an unset clock must send null` };
    }
    if (gatewayClockSet && record.wallMs > receivedAt + MAX_DEVICE_CLOCK_AHEAD_MS) {
      return { ok: false, reason: "malformed", field: "wallMs", detail: `${record.wallMs} is more than a day ahead of the gateway's clock (${receivedAt})` };
    }
    source = "device";
    wallMs = record.wallMs;
  }
  const offsetMs = wallMs - record.uptimeMs;
  if (offsetMs < 0) return { ok: false, reason: "malformed", field: "uptimeMs", detail: `${record.uptimeMs} ms of uptime is longer than the epoch` };
  return { ok: true, anchor: { sensorId: record.sensorId, boot: record.boot, source, offsetMs, uptimeMs: record.uptimeMs, wallMs, receivedAt } };
}

/** "adopt": the boot had no anchor; "replace": this one is better; "keep": the boot's anchor stays. */
export type AnchorDecision = "adopt" | "replace" | "keep";

/** The rule in this file's header. */
export function chooseAnchor(existing: BootAnchor | undefined, incoming: BootAnchor): AnchorDecision {
  if (!existing) return "adopt";
  if (existing.source === "device") return "keep";
  if (incoming.source === "device") return "replace";
  return incoming.offsetMs < existing.offsetMs ? "replace" : "keep";
}

/** The observation with its wall time from the boot's anchor, or unchanged (untimed) without one. */
export function withTime(obs: TimedObservation, anchor: BootAnchor | undefined): TimedObservation {
  // Field by field: every observation comes through here, and object rest and spread cost V8 far more per call.
  const timed: TimedObservation = { sensorId: obs.sensorId, seq: obs.seq, boot: obs.boot, uptimeMs: obs.uptimeMs, readings: obs.readings };
  if (anchor) {
    timed.time = anchor.offsetMs + obs.uptimeMs;
    timed.timeSource = anchor.source;
  }
  return timed;
}
