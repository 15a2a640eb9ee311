/*
 * GET /api/v1/observations/stream: observations as Server-Sent Events, one
 * session per client (hosts/http/sse.ts), event id = the store's row id.
 * The gateway tells `stored()` when rows were committed; each session then
 * reads what follows its cursor from the store, so a client resuming with
 * Last-Event-ID (or ?after=) gets exactly what it missed.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { SseSession, SSE_STALL_MS } from "../../http/sse.js";
import type { ObservationStore } from "../store/observation-store.js";
import { checkParams, intValue } from "./query.js";
import { apiObservation, type ApiObservation } from "./views.js";

const ID_RANGE = { min: 0, max: Number.MAX_SAFE_INTEGER };

export interface StreamStats {
  sseClients: number;
  /** Clients disconnected because they stopped reading (see SSE_STALL_MS). */
  sseStalled: number;
}

export class ObservationStream {
  readonly #store: ObservationStore;
  readonly #stallMs: number;
  readonly #sessions = new Set<SseSession<ApiObservation>>();
  #stalled = 0;

  constructor(store: ObservationStore, stallMs = SSE_STALL_MS) {
    this.#store = store;
    this.#stallMs = stallMs;
  }

  open(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): void {
    checkParams(params, ["after"]);
    // Last-Event-ID is what a reconnecting EventSource sends; without either, only new events.
    const lastEventId = req.headers["last-event-id"];
    const after =
      typeof lastEventId === "string"
        ? intValue("Last-Event-ID", lastEventId, ID_RANGE, 0)
        : intValue("after", params.get("after"), ID_RANGE, this.#store.queries.latestId());
    const read = (id: number, limit: number) => this.#store.queries.after(id, limit).map(apiObservation);
    const session: SseSession<ApiObservation> = new SseSession(res, read, after, () => this.#sessions.delete(session), {
      idOf: (row) => row.id,
      stallMs: this.#stallMs,
      onStalled: () => this.#stalled++,
    });
    this.#sessions.add(session);
    session.wake();
  }

  /** Rows were committed: every session sends what follows its cursor. */
  stored(): void {
    for (const session of this.#sessions) session.wake();
  }

  stats(): StreamStats {
    return { sseClients: this.#sessions.size, sseStalled: this.#stalled };
  }

  close(): void {
    for (const session of this.#sessions) session.end();
  }
}
