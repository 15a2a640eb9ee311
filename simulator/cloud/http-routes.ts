/*
 * The reference cloud's HTTP routes (see server.ts for what each does), each
 * with the action it needs (access.ts): the request's credential is checked
 * before its body is read or a stream opened. Only /healthz is public.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError, readJson, sendJson } from "../../hosts/http/http-json.js";
import type { SseAdmission } from "../../hosts/http/sse-admission.js";
import { SseSession } from "../../hosts/http/sse.js";
import type { Logger } from "../../hosts/log/logger.js";
import type { CloudAccess, CloudAction } from "./access.js";
import type { CloudObservation, CloudStore, RegistrationEvent } from "./cloud-store.js";
import { parseObservationBatch, parseRegistration } from "./validate.js";

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/** What a 401 tells a client to send; a browser or curl then knows the scheme. */
export const CLOUD_AUTH_CHALLENGE = 'Bearer realm="xsedge cloud"';

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;
export interface Route {
  /** "public": no credential needed. */
  action: CloudAction | "public";
  handle: Handler;
}
export type Routes = Record<string, Partial<Record<string, Route>>>;

export interface RouteContext {
  store: CloudStore;
  log: Logger;
  access: CloudAccess;
  /** Places on the SSE streams, both of them together. */
  admission: SseAdmission;
  sessions: Set<SseSession<CloudObservation>>;
  registrationSessions: Set<SseSession<RegistrationEvent>>;
  health(): unknown;
  /** Newly stored observations: wake the streams, call the listeners. */
  published(stored: CloudObservation[]): void;
  /** A sensor registered: wake the registration streams. */
  registered(): void;
}

function parseOffset(name: string, raw: string | null, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === null) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 0 && value <= max)) throw new HttpError(400, `${name} must be an integer from 0 to ${max}, got "${raw}"`);
  return value;
}

/** Throws the 401 (counted and logged) unless the request proves some role. */
export function authenticate(access: CloudAccess, req: IncomingMessage, pathname: string): void {
  const identity = access.identify({ authorization: req.headers.authorization });
  if (identity.ok) return;
  const refusal = access.refuse(identity.reason, `${req.method} ${pathname}`, req.socket.remoteAddress ?? "unknown");
  throw new HttpError(401, refusal.message, { "www-authenticate": CLOUD_AUTH_CHALLENGE }, true);
}

/** Throws the 401 or 403 (already counted and logged) unless the request may do `action`. */
export function authorize(access: CloudAccess, action: CloudAction, req: IncomingMessage, url: URL): void {
  const what = `${req.method} ${url.pathname}`;
  const decision = access.decide(action, { authorization: req.headers.authorization }, what, req.socket.remoteAddress ?? "unknown");
  if (decision.ok) return;
  if (decision.reason === "forbidden") throw new HttpError(403, decision.message, {}, true);
  throw new HttpError(401, decision.message, { "www-authenticate": CLOUD_AUTH_CHALLENGE }, true);
}

export function cloudRoutes(context: RouteContext): Routes {
  const { store, log, admission } = context;

  /** A place on the SSE streams for this client, or the 503/429 that says why not. */
  function admit(req: IncomingMessage): () => void {
    const place = admission.admit(req.socket.remoteAddress ?? "unknown");
    if (!place.ok) throw new HttpError(place.status, place.message, place.status === 503 ? { "retry-after": "10" } : {});
    return place.release;
  }

  return {
    "/healthz": { GET: { action: "public", handle: (_req, res) => sendJson(res, 200, context.health()) } },
    "/api/v1/sensors": {
      POST: {
        action: "register",
        handle: async (req, res) => {
          const { sensor, created } = store.register(parseRegistration(await readJson(req)), Date.now());
          await store.sync();
          log.info(`sensor ${created ? "registered" : "re-registered"}: ${sensor.sensorId}`, { ...sensor });
          sendJson(res, created ? 201 : 200, sensor);
          context.registered();
        },
      },
      GET: { action: "observations.read", handle: (_req, res) => sendJson(res, 200, { sensors: store.sensors() }) },
    },
    "/api/v1/observations": {
      POST: {
        action: "observations.write",
        handle: async (req, res) => {
          const batch = parseObservationBatch(await readJson(req));
          const { stored, duplicates } = store.append(batch, Date.now());
          // Committed, not yet durable: the answer waits for the WAL's fsync, which batches in flight together share
          // (cloud-store.ts); a failed one answers 500 and acks nothing (the gateway sends the batch again).
          await store.sync();
          log.debug("batch stored", { received: batch.length, stored: stored.length, duplicates });
          // Every observation of a valid batch is now stored durably (now or before), so all are acked.
          sendJson(res, 200, { acked: batch.map(({ sensorId, seq }) => ({ sensorId, seq })), duplicates });
          context.published(stored);
        },
      },
      GET: {
        action: "observations.read",
        handle: (_req, res, url) => {
          const after = parseOffset("after", url.searchParams.get("after"), 0);
          const limit = parseOffset("limit", url.searchParams.get("limit"), DEFAULT_PAGE, MAX_PAGE);
          const observations = store.after(after, limit);
          const next = observations.length > 0 ? observations[observations.length - 1].offset : after;
          sendJson(res, 200, { observations, next });
        },
      },
    },
    "/api/v1/observations/stream": {
      GET: {
        action: "observations.read",
        handle: (req, res, url) => {
          // Last-Event-ID is what a reconnecting EventSource sends; without either, only new events.
          const lastEventId = req.headers["last-event-id"];
          const after =
            typeof lastEventId === "string"
              ? parseOffset("Last-Event-ID", lastEventId, 0)
              : parseOffset("after", url.searchParams.get("after"), store.latestOffset());
          const release = admit(req);
          const session: SseSession<CloudObservation> = new SseSession(res, (offset, limit) => store.after(offset, limit), after, () => {
            context.sessions.delete(session);
            release();
          }, { maxBufferedBytes: admission.limits.maxBufferedBytes });
          context.sessions.add(session);
          session.wake();
        },
      },
    },
    "/api/v1/registrations/stream": {
      GET: {
        action: "registrations.read",
        handle: (req, res, url) => {
          const lastEventId = req.headers["last-event-id"];
          // Unlike observations, a gateway without a position wants the whole (compacted) log.
          const after =
            typeof lastEventId === "string" ? parseOffset("Last-Event-ID", lastEventId, 0) : parseOffset("after", url.searchParams.get("after"), 0);
          const release = admit(req);
          const session: SseSession<RegistrationEvent> = new SseSession(
            res,
            (offset, limit) => store.registrationsAfter(offset, limit),
            after,
            () => {
              context.registrationSessions.delete(session);
              release();
            },
            { data: ({ sensorId, secretDigest, registeredAt }) => ({ sensorId, secretDigest, registeredAt }), maxBufferedBytes: admission.limits.maxBufferedBytes },
          );
          context.registrationSessions.add(session);
          log.info(`registration stream opened after offset ${after}`, { remote: req.socket.remoteAddress });
          session.wake();
        },
      },
    },
  };
}
