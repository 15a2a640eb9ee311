/*
 * The transport of sensor registrations: follows the cloud's registration
 * stream (Server-Sent Events over HTTP, see simulator/cloud/server.ts) and
 * hands each event to the projection. Resumes after the projection's stored
 * offset with Last-Event-ID; on any failure (refused, dropped, silent for too
 * long) reconnects with exponential backoff.
 *
 * The decisions are in event.ts (what an event means, how long
 * to wait) and sse-parser.ts (framing); this file owns the socket and the timer.
 * Issue 4 replaces this transport (Akka Projection gRPC); the projection stays.
 */
import { request as httpRequest, type ClientRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Logger } from "../../log/logger.js";
import { bearer } from "../../auth/bearer.js";
import { checkTlsScheme, describeLinkError, readClientTls, type ClientTlsFiles, type TlsMaterial } from "../relay/cloud-tls.js";
import {
  REGISTRATION_RETRY_INITIAL_MS, REGISTRATION_RETRY_MAX_MS, decideRegistrationEvent, registrationRetryDelay,
} from "./event.js";
import type { RegistrationProjection } from "./projection.js";
import { SseParser, type SseEvent } from "./sse-parser.js";

export const REGISTRATION_STREAM_PATH = "/api/v1/registrations/stream";

/** Three of the cloud's 15 s keep-alive comments missed: the connection is dead even if TCP has not noticed. */
export const REGISTRATION_IDLE_TIMEOUT_MS = 45_000;

export interface RegistrationFeedOptions {
  /** The cloud's base URL, http:// or https://. */
  url: string;
  /** CA file and client certificate (mutual TLS) for an https:// URL; read here, once. */
  tls?: ClientTlsFiles;
  /** Sent as `authorization: Bearer <token>`; never logged. */
  token?: string;
  projection: RegistrationProjection;
  logger: Logger;
  retryInitialMs?: number;
  retryMaxMs?: number;
  idleTimeoutMs?: number;
}

export interface RegistrationFeedStats {
  connected: boolean;
  /** Registrations applied (new or replacing a secret). */
  events: number;
  /** Events skipped as malformed (the offset still moves past them when they have one). */
  badEvents: number;
  /** Connection attempts after the first. */
  reconnects: number;
  /** Why the last connection failed or ended; null until one did. */
  lastError: string | null;
}

export class RegistrationFeed {
  readonly #url: URL;
  readonly #projection: RegistrationProjection;
  readonly #log: Logger;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  readonly #idleTimeoutMs: number;
  readonly #tls: TlsMaterial | undefined;
  readonly #credential: Record<string, string>;
  readonly #stats: RegistrationFeedStats = { connected: false, events: 0, badEvents: 0, reconnects: 0, lastError: null };
  #failures = 0;
  #request: ClientRequest | undefined;
  #requestClosed: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #started = false;
  #closed = false;

  constructor(options: RegistrationFeedOptions) {
    this.#url = new URL(REGISTRATION_STREAM_PATH, options.url);
    if (this.#url.protocol !== "http:" && this.#url.protocol !== "https:") throw new RangeError(`registration URL must be http:// or https://, got ${options.url}`);
    checkTlsScheme(this.#url, options.tls, "https:", "registration feed");
    this.#tls = readClientTls(options.tls, "registration TLS");
    this.#credential = options.token === undefined ? {} : { authorization: bearer(options.token) };
    this.#projection = options.projection;
    this.#log = options.logger;
    this.#retryInitialMs = options.retryInitialMs ?? REGISTRATION_RETRY_INITIAL_MS;
    this.#retryMaxMs = options.retryMaxMs ?? REGISTRATION_RETRY_MAX_MS;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? REGISTRATION_IDLE_TIMEOUT_MS;
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#connect();
  }

  /** A snapshot; callers may keep it. */
  stats(): RegistrationFeedStats {
    return { ...this.#stats };
  }

  /** Stops reconnecting and drops the connection. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#request?.destroy();
    await this.#requestClosed;
    this.#stats.connected = false;
  }

  #connect(): void {
    const after = this.#projection.offset();
    let ended = false;
    // One attempt ends once, whichever of error, end or close comes first.
    const end = (error: Error) => {
      if (ended) return;
      ended = true;
      this.#ended(error);
    };
    const headers = { accept: "text/event-stream", "last-event-id": String(after), ...this.#credential };
    const req = this.#url.protocol === "https:" ? httpsRequest(this.#url, { headers, ...this.#tls }) : httpRequest(this.#url, { headers });
    this.#request = req;
    this.#requestClosed = new Promise((resolve) => req.once("close", resolve));
    // Each failure is reported before the destroy, whose own error and close events would hide its reason.
    const fail = (error: Error) => {
      end(error);
      req.destroy();
    };
    req.setTimeout(this.#idleTimeoutMs, () => fail(new Error(`no data for ${this.#idleTimeoutMs} ms`)));
    req.on("error", (error) => end(new Error(describeLinkError(error, "cloud", this.#url.protocol === "https:"))));
    req.on("close", () => end(new Error("connection closed")));
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        fail(new Error(`HTTP ${res.statusCode} from ${this.#url.href}`));
        return;
      }
      this.#stats.connected = true;
      this.#failures = 0;
      this.#log.info(`registration feed connected to ${this.#url.href} after offset ${after}`, { url: this.#url.href, offset: after });
      const parser = new SseParser();
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        try {
          for (const event of parser.push(chunk)) this.#event(event);
        } catch (error) {
          // A store that cannot commit, or a stream that is not the cloud's:
          // the offset has not moved, so the next connection resumes right here.
          fail(error as Error);
        }
      });
      res.on("end", () => end(new Error("stream ended by the cloud")));
      res.on("error", end);
    });
    req.end();
  }

  #event(event: SseEvent): void {
    const decision = decideRegistrationEvent(event, this.#projection.offset());
    switch (decision.action) {
      case "apply": {
        const { registration } = decision;
        const outcome = this.#projection.apply(registration);
        if (outcome === "stale") return;
        this.#stats.events++;
        // The fields are named one by one: the registration holds the secret.
        this.#log.info(`sensor ${registration.sensorId} ${outcome === "registered" ? "registered" : "re-registered (new secret)"}`, {
          sensorId: registration.sensorId,
          offset: registration.offset,
        });
        return;
      }
      case "stale":
        this.#log.debug(`registration event at offset ${decision.offset} already applied`, { offset: decision.offset });
        return;
      case "skip":
        this.#projection.skip(decision.offset);
        this.#stats.badEvents++;
        this.#log.warn(`skipped registration event at offset ${decision.offset}: ${decision.reason}`, { offset: decision.offset, reason: decision.reason });
        return;
      case "ignore":
        this.#stats.badEvents++;
        this.#log.warn(`ignored registration event: ${decision.reason}`, { reason: decision.reason });
        return;
    }
  }

  #ended(error: Error): void {
    const wasConnected = this.#stats.connected;
    this.#stats.connected = false;
    this.#request = undefined;
    if (this.#closed) return;
    this.#stats.lastError = error.message;
    this.#failures++;
    const delay = registrationRetryDelay(this.#failures, this.#retryInitialMs, this.#retryMaxMs);
    // A dropped stream is worth a warning; each failed retry during an outage only a debug line.
    const line = `registration feed ${wasConnected ? "lost" : "could not connect"}: ${error.message}; retrying in ${delay} ms`;
    if (wasConnected || this.#failures === 1) this.#log.warn(line, { error: error.message, retryMs: delay });
    else this.#log.debug(line, { error: error.message, retryMs: delay });
    this.#timer = setTimeout(() => {
      this.#stats.reconnects++;
      this.#connect();
    }, delay);
  }
}
