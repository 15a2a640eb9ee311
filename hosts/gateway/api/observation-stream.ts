/*
 * GET /api/v1/observations/stream: observations as Server-Sent Events, one
 * session per client (hosts/http/sse.ts), event id = the store's row id.
 * The gateway tells `stored()` when rows were committed; each session then
 * reads what follows its cursor from the store, so a client resuming with
 * Last-Event-ID (or ?after=) gets exactly what it missed.
 *
 * Bounded (hosts/http/sse-admission.ts): at most `maxClients` sessions, and
 * `maxClientsPerAddress` from one address, refused beyond with 503 or 429
 * before a session exists; each with at most `maxBufferedBytes` queued, and
 * one that does not read for `stallMs` is dropped. All counted.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError } from "../../http/http-json.js";
import { DEFAULT_SSE_LIMITS, SseAdmission, type SseLimits, type SseRefusalReason } from "../../http/sse-admission.js";
import { SseSession, SSE_STALL_MS } from "../../http/sse.js";
import type { ObservationStore } from "../store/observation-store.js";
import { checkParams, intValue } from "./query.js";
import { apiObservation, type ApiObservation } from "./views.js";

const ID_RANGE = { min: 0, max: Number.MAX_SAFE_INTEGER };

/**
 * The id an event stream starts after: Last-Event-ID, which a reconnecting
 * EventSource sends, else `?after=`, else `latest` (only new events).
 */
export function streamStart(req: IncomingMessage, params: URLSearchParams, latest: number): number {
  checkParams(params, ["after"]);
  const lastEventId = req.headers["last-event-id"];
  return typeof lastEventId === "string" ? intValue("Last-Event-ID", lastEventId, ID_RANGE, 0) : intValue("after", params.get("after"), ID_RANGE, latest);
}

export interface StreamStats {
  sseClients: number;
  /** Clients disconnected because they stopped reading (see SSE_STALL_MS). */
  sseStalled: number;
  /** Clients refused at the door, by the limit that refused them. */
  sseRefused: Record<SseRefusalReason, number>;
  /** Bytes queued for the open streams, all together. */
  sseBufferedBytes: number;
}

export interface StreamLimits extends SseLimits {
  stallMs: number;
}

export const DEFAULT_STREAM_LIMITS: Readonly<StreamLimits> = Object.freeze({ ...DEFAULT_SSE_LIMITS, stallMs: SSE_STALL_MS });

export class ObservationStream {
  readonly #store: ObservationStore;
  readonly limits: StreamLimits;
  readonly #admission: SseAdmission;
  readonly #sessions = new Set<SseSession<ApiObservation>>();
  #stalled = 0;

  constructor(store: ObservationStore, limits: Partial<StreamLimits> = {}) {
    this.#store = store;
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...limits };
    this.#admission = new SseAdmission(this.limits);
  }

  open(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): void {
    const after = streamStart(req, params, this.#store.queries.latestId());
    const place = this.#admission.admit(req.socket.remoteAddress ?? "unknown");
    if (!place.ok) throw new HttpError(place.status, place.message, place.status === 503 ? { "retry-after": "10" } : {});
    const read = (id: number, limit: number) => this.#store.queries.after(id, limit).map(apiObservation);
    const session: SseSession<ApiObservation> = new SseSession(
      res,
      read,
      after,
      () => {
        this.#sessions.delete(session);
        place.release();
      },
      { idOf: (row) => row.id, stallMs: this.limits.stallMs, maxBufferedBytes: this.limits.maxBufferedBytes, onStalled: () => this.#stalled++ },
    );
    this.#sessions.add(session);
    session.wake();
  }

  /** Rows were committed: every session sends what follows its cursor. */
  stored(): void {
    for (const session of this.#sessions) session.wake();
  }

  stats(): StreamStats {
    let buffered = 0;
    for (const session of this.#sessions) buffered += session.buffered;
    return { sseClients: this.#sessions.size, sseStalled: this.#stalled, sseRefused: this.#admission.refused(), sseBufferedBytes: buffered };
  }

  close(): void {
    for (const session of this.#sessions) session.end();
  }
}
