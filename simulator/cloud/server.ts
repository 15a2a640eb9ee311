/*
 * The reference cloud registration service: sensors register here, gateways
 * relay observations here, and consumers follow the observation log live.
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
 * {sensorId, secretDigest, registeredAt}, in offset order, then live as
 * sensors register; `secretDigest` is "sha256:<hex>" of the secret, which
 * the cloud never keeps (hosts/auth/secret-digest.ts). A re-registration
 * (new secret) moves the sensor to a new, higher offset and its old event
 * is gone: the stream is a compacted log, the sensors table by offset, so
 * replaying it from 0 yields the current registrations. A gateway resumes
 * after the offset it stored with Last-Event-ID (or ?after=); without
 * either it gets the whole log.
 *
 * Every route but /healthz needs a bearer token (access.ts): registering an
 * admin's, the registration stream and POSTing observations a gateway's,
 * reading observations a consumer's (or a gateway's). Refusals are 401 (no
 * or unknown token) and 403 (a role that may not), counted in /healthz's
 * `access` and logged, throttled, without the token. Both event streams
 * together hold at most `sse.maxClients` subscribers (DEFAULT_SSE_LIMITS:
 * 64), `sse.maxClientsPerAddress` (8) from one address (503 and 429 beyond).
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
import { HttpError, sendJson } from "../../hosts/http/http-json.js";
import { findRoute } from "../../hosts/http/routes.js";
import { DEFAULT_SSE_LIMITS, SseAdmission, type SseLimits } from "../../hosts/http/sse-admission.js";
import type { SseSession } from "../../hosts/http/sse.js";
import { ValidationError } from "./validate.js";
import type { ServerTlsFiles } from "../../hosts/grpc/tls.js";
import { CloudAccess, type CloudAccessStats, type CloudCredentials } from "./access.js";
import { authorize, authenticate, cloudRoutes } from "./http-routes.js";
import { HttpErrorLog } from "../../hosts/http/error-log.js";
import { DEFAULT_ACCEPTED_STREAMS } from "./grpc/consumer-service.js";
import type { CloudGrpcStats } from "./grpc/grpc-stats.js";
import { DEFAULT_CLOUD_GRPC_PORT, startCloudGrpc } from "./grpc/grpc-server.js";

export { DEFAULT_CLOUD_GRPC_PORT };
/** The HTTP API's port: next to the gRPC port, which has the JVM sample's 8101. */
export const DEFAULT_CLOUD_HTTP_PORT = 8102;

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
  /** The tokens of each role (access.ts); required: the cloud never runs open. */
  credentials: CloudCredentials;
  /** Caps on the HTTP event streams; DEFAULT_SSE_LIMITS by default. */
  sse?: SseLimits;
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
  /** Credentials refused, HTTP and gRPC together. */
  accessStats(): CloudAccessStats;
  readonly store: CloudStore;
  /** Calls `listener` for each newly stored observation (not for duplicates). Returns the unsubscribe. */
  onObservation(listener: ObservationListener): () => void;
  /** Ends streams, closes the listener, then the store. Idempotent. */
  close(): Promise<void>;
}

export async function startCloud(options: CloudOptions): Promise<Cloud> {
  const log = options.logger ?? createLogger({ component: "cloud" });
  // Checked before anything opens: a token too short to be one is a start-up error.
  const access = new CloudAccess(options.credentials, log);
  const admission = new SseAdmission(options.sse ?? DEFAULT_SSE_LIMITS);
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
      access,
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

  const routes = cloudRoutes({
    store, log, access, admission, sessions, registrationSessions,
    health: () => ({ ok: true, ...store.counts(), grpc: grpc.stats(), access: access.stats(), sse: { open: admission.open, refused: admission.refused() } }),
    published: publish,
    registered,
  });

  const errors = new HttpErrorLog(log);
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Who is asking first (401), so that without a credential an unknown path is no 404; then the route and its role (403).
    const pathname = new URL(req.url ?? "/", "http://host.invalid").pathname;
    if (routes[pathname]?.GET?.action !== "public") authenticate(access, req, pathname);
    const { handler, url } = findRoute(routes, req, res);
    if (handler.action !== "public") authorize(access, handler.action, req, url);
    await handler.handle(req, res, url);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      const error = e instanceof ValidationError ? new HttpError(400, e.message) : e;
      if (res.headersSent) return void res.destroy(error as Error);
      if (error instanceof HttpError) {
        if (!error.logged) errors.warn(req, error.status, error.message);
        const field = e instanceof ValidationError ? { field: e.field } : {};
        // After a 413, or a refusal before the body arrived, the rest of the body is unread: the connection is not reused.
        const unread = error.status === 413 || !req.complete;
        const headers: Record<string, string> = { ...error.headers, ...(unread ? { connection: "close" } : {}) };
        sendJson(res, error.status, { error: error.message, ...field }, headers);
        if (unread) req.resume();
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
    accessStats: () => access.stats(),
    store,
    onObservation(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => (closing ??= close()),
  };
}
