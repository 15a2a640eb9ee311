/*
 * The gateway's local HTTP API and dashboard (node:http, no framework):
 *
 *   GET /api/v1/sensors                                   registered sensors joined with what the store holds
 *   GET /api/v1/observations?sensorId=&after=&limit=      newest first; with `after`, oldest first after that id
 *   GET /api/v1/observations/stream?after=                Server-Sent Events, id = row id, resumes from Last-Event-ID
 *   GET /api/v1/outbox                                    what waits for the cloud
 *   GET /api/v1/relay                                     the relay's stats
 *   GET /healthz                                          200 {status: "ok"} or 503 {status: "degraded" | "failing", reasons}
 *   GET /metrics                                          Prometheus text
 *   POST /api/v1/downlinks, GET /api/v1/downlinks         messages to devices (downlink-routes.ts)
 *   GET /, /app.js, /style.css                            the live dashboard
 *   /api/v1/rules...                                      the gateway rules (rule-routes.ts)
 *
 * Errors are JSON {error} naming what was wrong: 400 for a bad query
 * parameter, 401 without a credential where one is needed (api-access.ts),
 * 404 for an unknown path, 405 for a wrong method, 429 and 503 for an event
 * stream over its limits, 503 while the store is closed. Read-only but for the
 * downlinks and the rule routes (which deploy and switch rules): nothing here
 * changes what the gateway stores of observations. Over TLS when `access.tls` is given.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { readPem } from "../../grpc/tls.js";
import { HttpErrorLog } from "../../http/error-log.js";
import type { Logger } from "../../log/logger.js";
import { HttpError, sendJson } from "../../http/http-json.js";
import { findRoute } from "../../http/routes.js";
import type { ObservationStore } from "../store/observation-store.js";
import type { RelayStats } from "../relay/relay.js";
import type { SensorRegistry } from "../ingest/sensor-registry.js";
import { loadDashboard } from "./dashboard-files.js";
import { assessHealth, RELAY_FAILING_THRESHOLD_MS, type HealthFacts } from "./health.js";
import { GatewayMetrics } from "./metrics.js";
import { AlertStream, type AlertStreamStats } from "./alert-stream.js";
import { ruleRoutes } from "./rule-routes.js";
import type { RuleEngine } from "../rules/rule-engine.js";
import { DEFAULT_STREAM_LIMITS, ObservationStream, type StreamLimits, type StreamStats } from "./observation-stream.js";
import { ApiAccess, checkApiExposure, type ApiAccessOptions } from "./api-access.js";
import type { AuthRefusalReason } from "../../auth/refusals.js";
import { checkParams, intValue, sensorIdValue } from "./query.js";
import { apiObservation, sensorTable } from "./views.js";
import { downlinkRoutes } from "./downlink-routes.js";
import type { DownlinkDispatcher } from "../downlink/dispatcher.js";

/** The API's port unless configured: a common alternative HTTP port, free of the MQTT 1883 and the cloud's 8101. */
export const DEFAULT_HTTP_PORT = 8080;
/** Observations per page unless `limit` says otherwise. */
export const DEFAULT_OBSERVATIONS_LIMIT = 100;
/** Largest `limit`: about 300 kB of JSON, read synchronously from SQLite in a few milliseconds. */
export const MAX_OBSERVATIONS_LIMIT = 1000;
/** How long a stop waits for connections to end by themselves: any answer of this API is written well within it. */
export const API_CLOSE_GRACE_MS = 1000;

export interface ApiServerOptions {
  host: string;
  /** 0 picks an ephemeral port; see ApiServer.port. */
  port: number;
  store: ObservationStore;
  registry?: SensorRegistry;
  logger: Logger;
  /** The gateway's stats, for /metrics. */
  stats(): unknown;
  relay(): RelayStats;
  /** The cloud transport's own counters, when it has them (Akka gRPC). */
  cloudLink?: () => object | undefined;
  /** Gateway clock of the relay's first failure since its last success; null when not failing. */
  relayFailingSince(): number | null;
  mqttListening(): boolean;
  /** What else /healthz weighs: the store's commit failures, the registration stream. */
  healthFacts?: () => Pick<HealthFacts, "storeCommitFailure" | "registrationStream">;
  now?: () => number;
  /** Default RELAY_FAILING_THRESHOLD_MS. */
  relayFailingThresholdMs?: number;
  /** Default SSE_STALL_MS (hosts/http/sse.ts). */
  sseStallMs?: number;
  /** The gateway's rules; their routes answer 503 without. */
  rules?: RuleEngine;
  /** Messages to devices; absent with an external broker (the routes answer 503). */
  downlinks?: DownlinkDispatcher;
  /** Caps on the event streams; DEFAULT_STREAM_LIMITS (observation-stream.ts) for what is not given. */
  sseLimits?: Partial<StreamLimits>;
  /** Credentials, TLS, and whether a non-loopback host may go without them (api-access.ts). */
  access?: ApiAccessOptions;
}

export interface ApiStats extends StreamStats {
  /** Requests refused for want of a valid credential, by reason. */
  authRefused: Record<AuthRefusalReason, number>;
  /** The event streams' limits, for /metrics. */
  sseLimits: StreamLimits;
  /** The rules' alert streams (/api/v1/rules/alerts/stream). */
  alertStreams: AlertStreamStats;
}

export interface ApiServer {
  readonly host: string;
  readonly port: number;
  /** Rows were committed to the store: wakes the SSE streams. */
  stored(): void;
  /** Rules' alerts were committed: wakes the alert streams. */
  alertsStored(): void;
  stats(): ApiStats;
  /** Ends the streams and closes the listener. */
  close(): Promise<void>;
}

/** What an API that is off (http.port null) reports. */
export function idleApiStats(): ApiStats {
  return {
    sseClients: 0, sseStalled: 0, sseRefused: { maxClients: 0, maxClientsPerAddress: 0 }, sseBufferedBytes: 0,
    authRefused: { missing: 0, invalid: 0, forbidden: 0 }, sseLimits: { ...DEFAULT_STREAM_LIMITS },
    alertStreams: { clients: 0, stalled: 0, refused: { maxClients: 0, maxClientsPerAddress: 0 } },
  };
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: URLSearchParams) => Promise<void> | void;

const ID_RANGE = { min: 0, max: Number.MAX_SAFE_INTEGER };
const LIMIT_RANGE = { min: 1, max: MAX_OBSERVATIONS_LIMIT };

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { store, logger: log } = options;
  const now = options.now ?? Date.now;
  const dashboard = loadDashboard();
  const accessOptions = options.access ?? {};
  // Before anything listens: a LAN address without a credential is refused, not served.
  checkApiExposure(options.host, accessOptions);
  const access = new ApiAccess(accessOptions, log);
  const stream = new ObservationStream(store, { ...(options.sseStallMs === undefined ? {} : { stallMs: options.sseStallMs }), ...options.sseLimits });
  const metrics = new GatewayMetrics(options.stats);
  const alertStream = new AlertStream(store, { ...(options.sseStallMs === undefined ? {} : { stallMs: options.sseStallMs }), ...options.sseLimits });

  function openStore(): ObservationStore {
    if (!store.isOpen) throw new HttpError(503, "the store is closed (the gateway is stopping or has failed)");
    return store;
  }

  function health() {
    const facts = { storeOpen: store.isOpen, mqttListening: options.mqttListening(), relayFailingSince: options.relayFailingSince(), now: now(), ...options.healthFacts?.() };
    return assessHealth(facts, options.relayFailingThresholdMs ?? RELAY_FAILING_THRESHOLD_MS);
  }

  const routes: Record<string, Partial<Record<string, Handler>>> = {
    "/api/v1/sensors": {
      GET: (_req, res, params) => {
        checkParams(params, []);
        const summaries = openStore().queries.sensorSummaries();
        sendJson(res, 200, { sensors: sensorTable(options.registry?.list() ?? [], summaries) });
      },
    },
    "/api/v1/observations": {
      GET: (_req, res, params) => {
        checkParams(params, ["sensorId", "after", "limit"]);
        const sensorId = sensorIdValue(params);
        const limit = intValue("limit", params.get("limit"), LIMIT_RANGE, DEFAULT_OBSERVATIONS_LIMIT);
        const rawAfter = params.get("after");
        const queries = openStore().queries;
        const rows =
          rawAfter === null ? queries.recent(limit, sensorId) : queries.after(intValue("after", rawAfter, ID_RANGE, 0), limit, sensorId);
        sendJson(res, 200, { observations: rows.map(apiObservation) });
      },
    },
    "/api/v1/observations/stream": {
      GET: (req, res, params) => {
        openStore();
        stream.open(req, res, params);
      },
    },
    "/api/v1/outbox": {
      GET: (_req, res, params) => {
        checkParams(params, []);
        const counts = openStore().counts();
        const oldest = store.unrelayed(1)[0];
        sendJson(res, 200, {
          depth: counts.unrelayed,
          oldestReceivedAt: oldest?.receivedAt ?? null,
          oldestAgeMs: oldest ? Math.max(0, now() - oldest.receivedAt) : null,
          counts,
        });
      },
    },
    "/api/v1/relay": {
      GET: (_req, res, params) => {
        checkParams(params, []);
        const link = options.cloudLink?.();
        sendJson(res, 200, { ...options.relay(), failingSince: options.relayFailingSince(), ...(link ? { link } : {}) });
      },
    },
    "/healthz": {
      GET: (_req, res, params) => {
        checkParams(params, []);
        const verdict = health();
        sendJson(res, verdict.status === "ok" ? 200 : 503, verdict);
      },
    },
    "/metrics": {
      GET: async (_req, res, params) => {
        checkParams(params, []);
        const text = await metrics.text();
        res.writeHead(200, { "content-type": metrics.contentType, "content-length": Buffer.byteLength(text) });
        res.end(text);
      },
    },
  };
  Object.assign(routes, ruleRoutes(() => options.rules, store, alertStream));
  Object.assign(routes, downlinkRoutes(() => options.downlinks));
  for (const [path, file] of dashboard) {
    routes[path] = {
      GET: (_req, res) => {
        res.writeHead(200, { "content-type": file.type, "content-length": file.body.byteLength, "cache-control": "no-cache" });
        res.end(file.body);
      },
    };
  }

  const errors = new HttpErrorLog(log);
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The credential first: without one, an unknown path is no 404, so the routes are not mapped from outside.
    access.authorize(req, new URL(req.url ?? "/", "http://host.invalid").pathname);
    const { handler, url } = findRoute(routes, req, res);
    await handler(req, res, url.searchParams);
  }

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy(error as Error);
      if (error instanceof HttpError) {
        if (!error.logged) errors.warn(req, error.status, error.message);
        return sendJson(res, error.status, { error: error.message }, error.headers);
      }
      log.error(`${req.method} ${req.url} failed`, { error });
      sendJson(res, 500, { error: "internal error; see the gateway's log" });
    });
  };
  const tls = accessOptions.tls;
  // Client certificates are asked for, not required: /healthz stays open, and a token still serves without one.
  const server: Server =
    tls === undefined
      ? createServer(handle)
      : createTlsServer(
          { cert: readPem("http.tls.certFile", tls.certFile), key: readPem("http.tls.keyFile", tls.keyFile), ...(tls.caFile === undefined ? {} : { ca: readPem("http.tls.caFile", tls.caFile), requestCert: true, rejectUnauthorized: false }) },
          handle,
        );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => log.error("http listener error", { error }));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const scheme = tls === undefined ? "http" : "https";
  const guard = access.guarded ? "credentials required" : accessOptions.public === true ? "public" : "loopback, no credentials";
  log.info(`http api listening on ${scheme}://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port} (${guard})`, { host: options.host, port });

  return {
    host: options.host,
    port,
    stored: () => stream.stored(),
    alertsStored: () => alertStream.stored(),
    stats: () => ({ ...stream.stats(), authRefused: access.refused(), sseLimits: { ...stream.limits }, alertStreams: alertStream.stats() }),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      stream.close();
      alertStream.close();
      server.closeIdleConnections();
      // A request still being answered gets a moment; a client holding a connection open (half a request, say) does not hold the stop.
      const cutOff = setTimeout(() => server.closeAllConnections(), API_CLOSE_GRACE_MS);
      await closed;
      clearTimeout(cutOff);
    },
  };
}
