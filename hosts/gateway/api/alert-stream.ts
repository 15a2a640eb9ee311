/*
 * GET /api/v1/rules/alerts/stream: the rules' alerts as Server-Sent Events,
 * event id = the alert outbox's id, resumable from Last-Event-ID (or
 * ?after=), so a subscriber gets every alert at least once (each carries
 * its idempotency key). Like the observation stream, sessions read from
 * the outbox in SQLite when woken, and a subscriber that stops reading is
 * dropped (hosts/http/sse.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { SseSession, SSE_STALL_MS } from "../../http/sse.js";
import type { ObservationStore } from "../store/observation-store.js";
import { alertMessage, type AlertMessage } from "../rules/alerts/alert-message.js";
import { checkParams, intValue } from "./query.js";

const ID_RANGE = { min: 0, max: Number.MAX_SAFE_INTEGER };
/** Alert streams open at once: an operator's dashboards and a consumer or two, not a crowd. */
export const MAX_ALERT_STREAMS = 32;

export class AlertStream {
  readonly #store: ObservationStore;
  readonly #stallMs: number;
  readonly #sessions = new Set<SseSession<AlertMessage>>();

  constructor(store: ObservationStore, stallMs = SSE_STALL_MS) {
    this.#store = store;
    this.#stallMs = stallMs;
  }

  /** Opens a stream; false (nothing written) when MAX_ALERT_STREAMS are open. */
  open(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): boolean {
    checkParams(params, ["after"]);
    if (this.#sessions.size >= MAX_ALERT_STREAMS) return false;
    const lastEventId = req.headers["last-event-id"];
    const after =
      typeof lastEventId === "string"
        ? intValue("Last-Event-ID", lastEventId, ID_RANGE, 0)
        : intValue("after", params.get("after"), ID_RANGE, this.#store.alerts.latestId());
    const read = (id: number, limit: number) => this.#store.alerts.after(id, limit).map(alertMessage);
    const session: SseSession<AlertMessage> = new SseSession(res, read, after, () => this.#sessions.delete(session), {
      idOf: (alert) => alert.id,
      stallMs: this.#stallMs,
    });
    this.#sessions.add(session);
    session.wake();
    return true;
  }

  /** Alerts were committed. */
  stored(): void {
    for (const session of this.#sessions) session.wake();
  }

  get size(): number {
    return this.#sessions.size;
  }

  close(): void {
    for (const session of this.#sessions) session.end();
  }
}
