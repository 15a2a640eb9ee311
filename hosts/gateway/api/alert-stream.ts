/*
 * GET /api/v1/rules/alerts/stream: the rules' alerts as Server-Sent Events,
 * event id = the alert outbox's id, resumable from Last-Event-ID (or
 * ?after=), so a subscriber gets every alert at least once (each carries
 * its idempotency key). Like the observation stream, sessions read from
 * the outbox in SQLite when woken, and are bounded the same way
 * (hosts/http/sse-admission.ts): at most MAX_ALERT_STREAMS at once and the
 * observation stream's share per address, refused beyond with 503 or 429
 * before a session exists, each with at most `maxBufferedBytes` queued; a
 * subscriber that stops reading is dropped (hosts/http/sse.ts). All counted.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError } from "../../http/http-json.js";
import { SseAdmission, type SseRefusalReason } from "../../http/sse-admission.js";
import { SseSession } from "../../http/sse.js";
import type { ObservationStore } from "../store/observation-store.js";
import { alertMessage, type AlertMessage } from "../rules/alerts/alert-message.js";
import { DEFAULT_STREAM_LIMITS, streamStart, type StreamLimits } from "./observation-stream.js";

/** Alert streams open at once: an operator's dashboards and a consumer or two, not a crowd. */
export const MAX_ALERT_STREAMS = 32;

export interface AlertStreamStats {
  clients: number;
  stalled: number;
  refused: Record<SseRefusalReason, number>;
}

export class AlertStream {
  readonly #store: ObservationStore;
  readonly #limits: StreamLimits;
  readonly #admission: SseAdmission;
  readonly #sessions = new Set<SseSession<AlertMessage>>();
  #stalled = 0;

  /** `limits`: the observation stream's (http.sse.*), its total capped at MAX_ALERT_STREAMS. */
  constructor(store: ObservationStore, limits: Partial<StreamLimits> = {}) {
    this.#store = store;
    const all = { ...DEFAULT_STREAM_LIMITS, ...limits };
    const maxClients = Math.min(all.maxClients, MAX_ALERT_STREAMS);
    this.#limits = { ...all, maxClients, maxClientsPerAddress: Math.min(all.maxClientsPerAddress, maxClients) };
    this.#admission = new SseAdmission(this.#limits);
  }

  open(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): void {
    const after = streamStart(req, params, this.#store.alerts.latestId());
    const place = this.#admission.admit(req.socket.remoteAddress ?? "unknown");
    if (!place.ok) throw new HttpError(place.status, `alert streams: ${place.message}`, place.status === 503 ? { "retry-after": "10" } : {});
    const read = (id: number, limit: number) => this.#store.alerts.after(id, limit).map(alertMessage);
    const session: SseSession<AlertMessage> = new SseSession(
      res,
      read,
      after,
      () => {
        this.#sessions.delete(session);
        place.release();
      },
      { idOf: (alert) => alert.id, stallMs: this.#limits.stallMs, maxBufferedBytes: this.#limits.maxBufferedBytes, onStalled: () => this.#stalled++ },
    );
    this.#sessions.add(session);
    session.wake();
  }

  /** Alerts were committed. */
  stored(): void {
    for (const session of this.#sessions) session.wake();
  }

  stats(): AlertStreamStats {
    return { clients: this.#sessions.size, stalled: this.#stalled, refused: this.#admission.refused() };
  }

  close(): void {
    for (const session of this.#sessions) session.end();
  }
}
