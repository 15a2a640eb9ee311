/*
 * The web UI `xsedge sim` serves: its page (simulator/ui/page), and an API
 * the page reads and acts through. It listens on 127.0.0.1 only, and every
 * API call must carry the run's token (random per start, printed in the
 * URL's fragment, compared in constant time): the controls cut a device's
 * power or its network, and a page on another site must not be able to.
 * Bodies, streams and pages are bounded; refusals are counted and logged
 * at most once per kind every 10 s.
 *
 *   GET  /api/fleet?offset&limit&filter          a page of the fleet (FleetSnapshot)
 *   GET  /api/fleet/stream?offset&limit&filter   the same page once a second (Server-Sent Events)
 *   GET  /api/devices/<id>/history               the device's recent values
 *   POST /api/devices/<id>/power    {"on": bool}  power it on (a boot) or off (a cut)
 *   POST /api/devices/<id>/network  {"up": bool}  restore or cut its network
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Logger } from "../../hosts/log/logger.js";
import { LogThrottle } from "../../hosts/log/log-throttle.js";
import { HttpError, readJson, sendJson } from "../../hosts/http/http-json.js";
import type { FleetEngine } from "../fleet/fleet-engine.js";
import { FleetView, MAX_PAGE } from "./fleet-view.js";

/** A control's body is a few bytes. */
export const MAX_UI_BODY_BYTES = 1024;
/** Streams open at once: a few browser tabs. */
export const MAX_UI_STREAMS = 8;
const STREAM_MS = 1000;
const REFUSAL_LOG_MS = 10_000;
const TOKEN_HEADER = "x-xsedge-token";

const PAGE_FILES: Readonly<Record<string, { file: string; type: string }>> = Object.freeze({
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
});

/** tsc copies only .ts: from dist/ the page is found in the sources. */
function pageFiles(): Map<string, { type: string; body: Buffer }> {
  for (const candidate of ["./page/", "../../../simulator/ui/page/"]) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (!existsSync(dir + "index.html")) continue;
    return new Map(Object.entries(PAGE_FILES).map(([path, { file, type }]) => [path, { type, body: readFileSync(dir + file) }]));
  }
  throw new Error("the simulator UI's page (simulator/ui/page) is missing");
}

export interface UiServerOptions {
  engine: FleetEngine;
  /** 0 picks a free port. */
  port: number;
  logger?: Logger;
}

export interface UiServer {
  readonly port: number;
  /** The page's address, with the token in its fragment (never sent to the server in a request line). */
  readonly url: string;
  readonly token: string;
  readonly refusals: Record<string, number>;
  close(): Promise<void>;
}

export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const { engine, logger } = options;
  const files = pageFiles();
  const token = randomBytes(16).toString("hex");
  const expected = Buffer.from(token);
  const view = new FleetView(engine);
  const streams = new Set<ServerResponse>();
  const refusals: Record<string, number> = {};
  const throttle = new LogThrottle(REFUSAL_LOG_MS);

  const refuse = (res: ServerResponse, status: number, reason: string, message: string) => {
    refusals[reason] = (refusals[reason] ?? 0) + 1;
    const verdict = throttle.note(reason, Date.now());
    if (verdict.log) logger?.warn("simulator UI refused a request", { reason, message, more: verdict.suppressed });
    sendJson(res, status, { error: message });
  };
  const authorised = (req: IncomingMessage, url: URL) => {
    const given = Buffer.from(String(req.headers[TOKEN_HEADER] ?? url.searchParams.get("token") ?? ""));
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const page = (url: URL) => {
    const number = (name: string, fallback: number, max: number) => {
      const raw = url.searchParams.get(name);
      if (raw === null) return fallback;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0 || n > max) throw new HttpError(400, `${name} must be an integer from 0 to ${max}`);
      return n;
    };
    const filter = url.searchParams.get("filter") ?? "";
    if (filter.length > 64) throw new HttpError(400, "filter must be at most 64 characters");
    return { offset: number("offset", 0, 1_000_000), limit: number("limit", 50, MAX_PAGE), filter };
  };
  const device = (id: string) => {
    if (!engine.has(id)) throw new HttpError(404, `no simulated device "${id}"`);
    return engine.device(id);
  };

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (path === "/api/fleet" && req.method === "GET") {
      const { offset, limit, filter } = page(url);
      return sendJson(res, 200, view.snapshot(offset, limit, filter));
    }
    if (path === "/api/fleet/stream" && req.method === "GET") {
      const { offset, limit, filter } = page(url);
      if (streams.size >= MAX_UI_STREAMS) return refuse(res, 503, "streams", `at most ${MAX_UI_STREAMS} streams at once`);
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      streams.add(res);
      const send = () => {
        // A reader that does not keep up is left a snapshot behind, not buffered for.
        if (res.writableLength === 0) res.write(`data: ${JSON.stringify(view.snapshot(offset, limit, filter))}\n\n`);
      };
      send();
      const timer = setInterval(send, STREAM_MS);
      req.on("close", () => {
        clearInterval(timer);
        streams.delete(res);
      });
      return;
    }
    const match = /^\/api\/devices\/([A-Za-z0-9._:-]{1,64})\/(history|power|network)$/.exec(path);
    if (!match) throw new HttpError(404, `no route ${req.method} ${path}`);
    const [, id, what] = match;
    if (what === "history") {
      if (req.method !== "GET") throw new HttpError(405, `${path} takes GET`);
      device(id);
      return sendJson(res, 200, { id, points: view.history(id) });
    }
    if (req.method !== "POST") throw new HttpError(405, `${path} takes POST`);
    const body = (await readJson(req, MAX_UI_BODY_BYTES)) as Record<string, unknown> | null;
    const d = device(id);
    const key = what === "power" ? "on" : "up";
    const value = body?.[key];
    if (typeof value !== "boolean") throw new HttpError(400, `the body must be {"${key}": true or false}`);
    if (what === "power") {
      if (value) engine.powerOn(d);
      else engine.powerOff(d);
    } else engine.setNetwork(d, value);
    logger?.info(`simulator UI: ${id} ${what} ${value ? (key === "on" ? "on" : "restored") : key === "on" ? "off" : "cut"}`);
    return sendJson(res, 200, { id, state: d.state, networkDown: d.networkDown });
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://host.invalid");
    const file = files.get(url.pathname);
    if (file && req.method === "GET") {
      res.writeHead(200, { "content-type": file.type, "content-length": file.body.byteLength, "cache-control": "no-store" });
      return void res.end(file.body);
    }
    if (!url.pathname.startsWith("/api/")) return refuse(res, 404, "unknown-path", `no page ${url.pathname}`);
    if (!authorised(req, url)) return refuse(res, 401, "token", "the simulator UI's token is missing or wrong (it is in the address xsedge sim printed)");
    api(req, res, url).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (error instanceof HttpError) refuse(res, error.status, `http-${error.status}`, error.message);
      else {
        logger?.error("simulator UI failed a request", { error });
        sendJson(res, 500, { error: "internal error" });
      }
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/#token=${token}`,
    token,
    refusals,
    close: async () => {
      view.close();
      for (const res of streams) res.end();
      streams.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
