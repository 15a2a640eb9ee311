/*
 * Messages to devices, from request to outcome: a request (from the local
 * API or `xsedge device`) is checked, stored queued (pending-store.ts), and
 * sent on the device listener's DeviceDownlink as soon as the device's
 * session is subscribed, one at a time and in order per device; a PUBACK
 * makes it delivered, the device's report applied, refused or stale. A
 * device that is offline gets its queue when it next connects; a request
 * that waits past its time to live expires.
 *
 * Every way in is bounded: requests per device waiting at once, settled
 * requests kept, reports a device may send per second. A refused report is
 * counted and logged (throttled) and acknowledged, so the device moves on.
 */
import { decodeReport, downlinkProblem, encodeDownlink, ReportError } from "../../../modules/downlink/host-codec.js";
import { OutcomeStatus, type SettingValue } from "../../../modules/downlink/messages.js";
import type { Logger } from "../../log/logger.js";
import type { DeviceDownlink } from "../ingest/downlink.js";
import { RefusalLog } from "../ingest/refusal-log.js";
import type { SensorRegistry } from "../ingest/sensor-registry.js";
import { TokenBucket } from "../ingest/token-bucket.js";
import { downlinkOf, type DownlinkRecord, type PendingStore } from "./pending-store.js";

/** A week: a device may be switched off over a holiday and still get what was queued for it. */
export const DEFAULT_TTL_MS = 7 * 24 * 3600_000;
export const MAX_TTL_MS = 30 * 24 * 3600_000;
/** Requests one device may have waiting: a settings change is small, but a queue should not grow without an owner. */
export const MAX_WAITING_PER_SENSOR = 16;
/** Settled requests kept for operators to look at; older ones are deleted. */
export const MAX_KEPT = 10_000;
/** A device reports once per request; 5 a second (bursts of 20) is far beyond an honest one. */
export const REPORT_RATE = { perSecond: 5, burst: 20 };
/** Sensors whose report allowance is tracked at once; a full table forgets full buckets first. */
const MAX_BUCKETS = 10_000;

export type Request = { kind: "set"; settings: Array<[string, SettingValue]> } | { kind: "command"; name: string; arg?: SettingValue };

export class DownlinkRefusal extends Error {
  readonly reason: "not-registered" | "invalid" | "too-many";
  constructor(reason: DownlinkRefusal["reason"], message: string) {
    super(message);
    this.name = "DownlinkRefusal";
    this.reason = reason;
  }
}

export const REPORT_REFUSALS = ["malformed", "unknown-request", "not-this-sensor", "rate-limited"] as const;
export type ReportRefusal = (typeof REPORT_REFUSALS)[number];

export interface DispatcherStats {
  submitted: number;
  refusedRequests: number;
  sent: number;
  delivered: number;
  /** Sends the session ended before their PUBACK; each went back to the queue. */
  interrupted: number;
  reports: number;
  /** Reports of a request already settled (a device re-sending after a reconnect): acknowledged, no change. */
  duplicateReports: number;
  refusedReports: Record<ReportRefusal, number>;
}

export interface DispatcherOptions {
  store: PendingStore;
  downlink: DeviceDownlink;
  /** When given, requests for sensors it does not know are refused. */
  registry?: SensorRegistry;
  logger: Logger;
  now?: () => number;
}

export class DownlinkDispatcher {
  readonly #o: DispatcherOptions;
  readonly #now: () => number;
  readonly #refusals: RefusalLog;
  readonly #sending = new Set<string>();
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #stop: () => void;
  #closed = false;
  readonly #stats: DispatcherStats = {
    submitted: 0, refusedRequests: 0, sent: 0, delivered: 0, interrupted: 0, reports: 0, duplicateReports: 0,
    refusedReports: { malformed: 0, "unknown-request": 0, "not-this-sensor": 0, "rate-limited": 0 },
  };

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#refusals = new RefusalLog(options.logger, this.#now);
    this.#stop = options.downlink.onReady((sensorId) => this.#pump(sensorId));
    options.downlink.onReport((sensorId, payload) => this.#report(sensorId, payload));
    for (const sensorId of options.store.sensorsWaiting()) this.#pump(sensorId);
  }

  /** Queues a request for `sensorId` and sends it if the device is connected; DownlinkRefusal says why not. */
  submit(sensorId: string, request: Request, ttlMs = DEFAULT_TTL_MS): DownlinkRecord {
    const refuse = (reason: DownlinkRefusal["reason"], message: string): never => {
      this.#stats.refusedRequests++;
      throw new DownlinkRefusal(reason, message);
    };
    if (this.#o.registry && !this.#o.registry.isRegistered(sensorId)) refuse("not-registered", `sensor ${sensorId} is not registered`);
    if (!Number.isInteger(ttlMs) || ttlMs < 1000 || ttlMs > MAX_TTL_MS) refuse("invalid", `ttl must be from 1 s to ${MAX_TTL_MS / 86_400_000} days`);
    const problem = downlinkProblem(request.kind === "set"
      ? { kind: "set", requestId: 1, settings: request.settings }
      : { kind: "command", requestId: 1, name: request.name, arg: request.arg });
    if (problem) refuse("invalid", problem);
    const { store } = this.#o;
    const now = this.#now();
    store.expire(now);
    if (store.waiting(sensorId) >= MAX_WAITING_PER_SENSOR) refuse("too-many", `${sensorId} has ${MAX_WAITING_PER_SENSOR} requests waiting already (MAX_WAITING_PER_SENSOR)`);
    const record = store.add(sensorId, request, now, ttlMs);
    store.prune(MAX_KEPT);
    this.#stats.submitted++;
    this.#pump(sensorId);
    return store.get(record.id) ?? record;
  }

  get(id: number): DownlinkRecord | undefined {
    this.#o.store.expire(this.#now());
    return this.#o.store.get(id);
  }

  list(limit: number, sensorId?: string): DownlinkRecord[] {
    this.#o.store.expire(this.#now());
    return this.#o.store.list(limit, sensorId);
  }

  stats(): DispatcherStats & { requests: ReturnType<PendingStore["counts"]> } {
    return { ...this.#stats, refusedReports: { ...this.#stats.refusedReports }, requests: this.#o.store.counts() };
  }

  close(): void {
    this.#closed = true;
    this.#stop();
  }

  /** Sends the oldest queued request of `sensorId`, then the next, while the device is ready. */
  #pump(sensorId: string): void {
    const { store, downlink } = this.#o;
    if (this.#closed || this.#sending.has(sensorId) || !downlink.isReady(sensorId)) return;
    store.expire(this.#now());
    const next = store.nextQueued(sensorId);
    if (!next) return;
    this.#sending.add(sensorId);
    store.markSent(next.id, this.#now());
    this.#stats.sent++;
    downlink.send(sensorId, encodeDownlink(downlinkOf(next))).then(
      () => {
        this.#sending.delete(sensorId);
        if (this.#closed) return;
        if (store.markDelivered(next.id, this.#now())) this.#stats.delivered++;
        this.#pump(sensorId);
      },
      (error: Error) => {
        this.#sending.delete(sensorId);
        if (this.#closed) return;
        this.#stats.interrupted++;
        store.markUnsent(next.id);
        this.#o.logger.debug("downlink send interrupted; queued again", { sensorId, id: next.id, error: error.message });
        // Not retried here: the next subscribe of the device's session says when.
      },
    );
  }

  async #report(sensorId: string, payload: Uint8Array): Promise<void> {
    if (!this.#allow(sensorId)) return this.#refuse(sensorId, "rate-limited", `more than ${REPORT_RATE.perSecond} reports a second`);
    let outcome;
    try {
      outcome = decodeReport(payload);
    } catch (e) {
      if (!(e instanceof ReportError)) throw e;
      return this.#refuse(sensorId, "malformed", e.message);
    }
    const record = this.#o.store.get(outcome.requestId);
    if (!record) return this.#refuse(sensorId, "unknown-request", `request ${outcome.requestId} is not one of this gateway's`);
    if (record.sensorId !== sensorId) return this.#refuse(sensorId, "not-this-sensor", `request ${outcome.requestId} was for ${record.sensorId}`);
    this.#stats.reports++;
    const state = outcome.status === OutcomeStatus.APPLIED ? "applied" : outcome.status === OutcomeStatus.REFUSED ? "refused" : "stale";
    if (!this.#o.store.settle(record.id, state, outcome.detail, this.#now())) this.#stats.duplicateReports++;
  }

  #refuse(sensorId: string, reason: ReportRefusal, detail: string): void {
    this.#stats.refusedReports[reason]++;
    this.#refusals.warn(sensorId, `report-${reason}`, `report from ${sensorId} refused (${reason}): ${detail}`, { sensorId, reason });
  }

  #allow(sensorId: string): boolean {
    const now = this.#now();
    let bucket = this.#buckets.get(sensorId);
    if (!bucket) {
      if (this.#buckets.size >= MAX_BUCKETS) for (const [id, b] of this.#buckets) if (b.isFull(now)) this.#buckets.delete(id);
      if (this.#buckets.size >= MAX_BUCKETS) return false;
      bucket = new TokenBucket(REPORT_RATE.perSecond, REPORT_RATE.burst, now);
      this.#buckets.set(sensorId, bucket);
    }
    return bucket.take(now, 0) === 0;
  }
}
