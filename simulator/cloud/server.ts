/*
 * The reference cloud registration service: sensors register here, gateways
 * relay observations here, and anyone may follow the observation log live.
 *
 *   POST /api/v1/sensors               {sensorId, secret}     register (or replace the secret)
 *   GET  /api/v1/sensors                                      list, without secrets
 *   POST /api/v1/observations          {observations: [...]}  from a gateway -> {acked, duplicates}
 *   GET  /api/v1/observations?after=&limit=                   page through the log by offset
 *   GET  /api/v1/observations/stream   Server-Sent Events, id = offset, resumes from Last-Event-ID or ?after=
 *   GET  /api/v1/registrations/stream  Server-Sent Events for gateways, see below
 *   GET  /healthz
 *
 * An observation, as POSTed (units optional, checked if given) and as returned:
 *   {offset, sensorId, seq, boot, uptimeMs, time, timeSource,
 *    readings: [{quantity, unit, value}], receivedAt, storedAt}
 * `time` is wall ms from the gateway's clock mapping, null when no clock
 * anchor was known for the boot; `timeSource` says whose clock ("device" or
 * "gateway"), null with it. `offset` and `storedAt` are the cloud's own.
 *
 * The registration stream is how gateways learn which devices to accept:
 * one event per sensor, `id:` its registration offset, `data:`
 * {sensorId, secret, registeredAt}, in offset order, then live as sensors
 * register. A re-registration (new secret) moves the sensor to a new, higher
 * offset and its old event is gone: the stream is a compacted log, the
 * sensors table by offset, so replaying it from 0 yields the current
 * registrations. A gateway resumes after the offset it stored with
 * Last-Event-ID (or ?after=); without either it gets the whole log. It
 * carries secrets in the clear: fine for this reference cloud on loopback,
 * while a deployed one would need TLS and authenticated gateways.
 *
 * The same service speaks Akka Projection gRPC on its own port (grpcPort,
 * 8101 as the JVM sample's): see grpc/grpc-server.ts. Registrations and
 * observations are the same whichever way they came: an observation a
 * gateway sent with ConsumeEvent is in the log, the stream and
 * onObservation like one POSTed here, and a sensor registered here is an
 * event on EventsBySlices(registration-events).
 *
 * Observations of sensors that have not registered are accepted: gateways
 * authenticate their devices, and refusing here would stall a gateway's
 * relay on data it has already acknowledged to a device (one registered
 * then, perhaps, or a gateway given its own registry).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createLogger, type Logger } from "../../hosts/log/logger.js";
import { CloudStore, type CloudObservation, type RegistrationEvent } from "./cloud-store.js";
import { HttpError, readJson, sendJson } from "../../hosts/http/http-json.js";
import { findRoute } from "../../hosts/http/routes.js";
import { SseSession } from "../../hosts/http/sse.js";
import { parseObservationBatch, parseRegistration, ValidationError } from "./validate.js";
import type { ServerTlsFiles } from "../../hosts/grpc/tls.js";
import { DEFAULT_ACCEPTED_STREAMS } from "./grpc/consumer-service.js";
import type { CloudGrpcStats } from "./grpc/grpc-stats.js";
import { DEFAULT_CLOUD_GRPC_PORT, startCloudGrpc } from "./grpc/grpc-server.js";

export { DEFAULT_CLOUD_GRPC_PORT };
/** The HTTP API's port: next to the gRPC port, which has the JVM sample's 8101. */
export const DEFAULT_CLOUD_HTTP_PORT = 8102;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

export interface CloudOptions {
  host?: string;
  /** The HTTP port (default DEFAULT_CLOUD_HTTP_PORT); 0 picks an ephemeral port; see Cloud.port. */
  port?: number;
  /** The gRPC port (default DEFAULT_CLOUD_GRPC_PORT); 0 picks an ephemeral port; see Cloud.grpcPort. */
  grpcPort?: number;
  /** TLS on the gRPC port; with caFile, clients must present a certificate it signed. Default plaintext. */
  grpcTls?: ServerTlsFiles;
  /** Stream ids ConsumeEvent accepts; default ["temperature-events"]. */
  acceptedStreams?: readonly string[];
  dataDir: string;
  logger?: Logger;
}

export type ObservationListener = (observation: CloudObservation) => void;

export interface Cloud {
  readonly host: string;
  readonly port: number;
  /** Base URL, e.g. http://127.0.0.1:8102 */
  readonly url: string;
  readonly grpcPort: number;
  /** For a gRPC client, e.g. "127.0.0.1:8101". */
  readonly grpcTarget: string;
  /** Counters of the gRPC side. */
  grpcStats(): CloudGrpcStats;
  readonly store: CloudStore;
  /** Calls `listener` for each newly stored observation (not for duplicates). Returns the unsubscribe. */
  onObservation(listener: ObservationListener): () => void;
  /** Ends streams, closes the listener, then the store. Idempotent. */
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

function parseOffset(name: string, raw: string | null, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === null) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 0 && value <= max)) throw new HttpError(400, `${name} must be an integer from 0 to ${max}, got "${raw}"`);
  return value;
}

export async function startCloud(options: CloudOptions): Promise<Cloud> {
  const log = options.logger ?? createLogger({ component: "cloud" });
  const store = CloudStore.open(options.dataDir);
  const listeners = new Set<ObservationListener>();
  const sessions = new Set<SseSession<CloudObservation>>();
  const registrationSessions = new Set<SseSession<RegistrationEvent>>();

  function publish(stored: CloudObservation[]): void {
    if (stored.length === 0) return;
    grpc.observationsChanged();
    for (const session of sessions) session.wake();
    for (const obs of stored) {
      for (const listener of listeners) {
        try {
          listener(obs);
        } catch (error) {
          log.error("observation listener threw", { error });
        }
      }
    }
  }

  function registered(): void {
    for (const session of registrationSessions) session.wake();
    grpc.registrationsChanged();
  }

  const host = options.host ?? "127.0.0.1";
  let grpc: Awaited<ReturnType<typeof startCloudGrpc>>;
  try {
    grpc = await startCloudGrpc({
      host,
      port: options.grpcPort ?? DEFAULT_CLOUD_GRPC_PORT,
      tls: options.grpcTls,
      acceptedStreams: options.acceptedStreams ?? DEFAULT_ACCEPTED_STREAMS,
      store,
      logger: log,
      onRegistered: registered,
      onStored: publish,
    });
  } catch (e) {
    store.close();
    throw e;
  }

  const routes: Record<string, Partial<Record<string, Handler>>> = {
    "/healthz": { GET: (_req, res) => sendJson(res, 200, { ok: true, ...store.counts(), grpc: grpc.stats() }) },
    "/api/v1/sensors": {
      POST: async (req, res) => {
        const { sensor, created } = store.register(parseRegistration(await readJson(req)), Date.now());
        log.info(`sensor ${created ? "registered" : "re-registered"}: ${sensor.sensorId}`, { ...sensor });
        sendJson(res, created ? 201 : 200, sensor);
        registered();
      },
      GET: (_req, res) => sendJson(res, 200, { sensors: store.sensors() }),
    },
    "/api/v1/observations": {
      POST: async (req, res) => {
        const batch = parseObservationBatch(await readJson(req));
        const { stored, duplicates } = store.append(batch, Date.now());
        log.debug("batch stored", { received: batch.length, stored: stored.length, duplicates });
        // Every observation of a valid batch is now stored (now or before), so all are acked.
        sendJson(res, 200, { acked: batch.map(({ sensorId, seq }) => ({ sensorId, seq })), duplicates });
        publish(stored);
      },
      GET: (_req, res, url) => {
        const after = parseOffset("after", url.searchParams.get("after"), 0);
        const limit = parseOffset("limit", url.searchParams.get("limit"), DEFAULT_PAGE, MAX_PAGE);
        const observations = store.after(after, limit);
        const next = observations.length > 0 ? observations[observations.length - 1].offset : after;
        sendJson(res, 200, { observations, next });
      },
    },
    "/api/v1/observations/stream": {
      GET: (req, res, url) => {
        // Last-Event-ID is what a reconnecting EventSource sends; without either, only new events.
        const lastEventId = req.headers["last-event-id"];
        const after =
          typeof lastEventId === "string"
            ? parseOffset("Last-Event-ID", lastEventId, 0)
            : parseOffset("after", url.searchParams.get("after"), store.latestOffset());
        const session: SseSession<CloudObservation> = new SseSession(res, (offset, limit) => store.after(offset, limit), after, () => sessions.delete(session));
        sessions.add(session);
        session.wake();
      },
    },
    "/api/v1/registrations/stream": {
      GET: (req, res, url) => {
        const lastEventId = req.headers["last-event-id"];
        // Unlike observations, a gateway without a position wants the whole (compacted) log.
        const after =
          typeof lastEventId === "string" ? parseOffset("Last-Event-ID", lastEventId, 0) : parseOffset("after", url.searchParams.get("after"), 0);
        const session: SseSession<RegistrationEvent> = new SseSession(
          res,
          (offset, limit) => store.registrationsAfter(offset, limit),
          after,
          () => registrationSessions.delete(session),
          { data: ({ sensorId, secret, registeredAt }) => ({ sensorId, secret, registeredAt }) },
        );
        registrationSessions.add(session);
        log.info(`registration stream opened after offset ${after}`, { remote: req.socket.remoteAddress });
        session.wake();
      },
    },
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { handler, url } = findRoute(routes, req, res);
    await handler(req, res, url);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      const error = e instanceof ValidationError ? new HttpError(400, e.message) : e;
      if (res.headersSent) return void res.destroy(error as Error);
      if (error instanceof HttpError) {
        log.warn(`${req.method} ${req.url} -> ${error.status}: ${error.message}`);
        const field = e instanceof ValidationError ? { field: e.field } : {};
        // After a 413 the rest of the body is unread, so the connection cannot be reused.
        const headers: Record<string, string> = error.status === 413 ? { connection: "close" } : {};
        sendJson(res, error.status, { error: error.message, ...field }, headers);
        if (error.status === 413) req.resume();
        return;
      }
      log.error(`${req.method} ${req.url} failed`, { error });
      sendJson(res, 500, { error: "internal error; see the cloud's log" });
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? DEFAULT_CLOUD_HTTP_PORT, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    await grpc.close();
    store.close();
    throw e;
  }
  server.on("error", (error) => log.error("http listener error", { error }));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : (options.port ?? DEFAULT_CLOUD_HTTP_PORT);
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info(`cloud listening on ${url}`, { store: store.path });

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of [...sessions, ...registrationSessions]) session.end();
    server.closeIdleConnections();
    await Promise.all([closed, grpc.close()]);
    store.close();
    log.info("cloud stopped");
  }

  return {
    host,
    port,
    url,
    grpcPort: grpc.port,
    grpcTarget: `${host.includes(":") ? `[${host}]` : host}:${grpc.port}`,
    grpcStats: () => grpc.stats(),
    store,
    onObservation(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => (closing ??= close()),
  };
}
