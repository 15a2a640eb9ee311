/*
 * The simplest honest connector: one JSON POST per batch to the reference
 * cloud's /api/v1/observations. Anything but a 2xx with a well-formed ack
 * is a failure the relay retries.
 *
 * Over node's http/https rather than fetch: fetch has no way to take a CA
 * file or a client certificate without undici's own Agent.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { checkTlsScheme, describeLinkError, readClientTls, type ClientTlsFiles } from "../cloud-tls.js";
import { bearer } from "../../../auth/bearer.js";
import type { CloudAck, CloudConnector, ObservationKey, RelayedObservation } from "../connector.js";

export const OBSERVATIONS_PATH = "/api/v1/observations";

/** Longer than a healthy cloud needs for a batch; short enough that an outage shows within seconds. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/**
 * Requests in flight at once while the relay keeps up. More than one sends
 * rows committed during a request at once instead of after its answer (the
 * relay keeps each sensor's rows to one request at a time, so their order
 * holds), but the reference cloud stores each request with an fsync of its
 * own on its event loop: the time saved before the send was spent queued at
 * the cloud (bench area `latency`, 2,000 obs/s on a loaded machine:
 * committed → sent p99 14–23 → 6–10 ms, the request p99 22–34 → 30–55 ms).
 * The reference cloud now fsyncs off its event loop, one sync shared by the
 * requests committed meanwhile (simulator/cloud/cloud-store.ts), but
 * measured again with it (latency path, 3,000 and 5,000 obs/s, alternating,
 * a host at load 4–13): windows of 2 and 4 were no better than 1 overall
 * (3,000/s: p99 79 ms and 3.1 s with 1, 816 ms and 1.1 s with 4; 5,000/s:
 * 3.7 and 8.6 s with 1, 7.6 and 12.5 s with 2, 12.7 and 15.5 s with 4), the
 * extra small requests costing CPU the host did not have. So still one; a
 * quiet host may say otherwise.
 */
export const DEFAULT_CONCURRENT_REQUESTS = 1;
/** An ack names each observation in ~40 bytes: a few MiB covers any sane batch; more is not an ack, and is not buffered. */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** A request the cloud did not acknowledge; `status` is absent when there was no HTTP answer. */
export class CloudRequestError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = "CloudRequestError";
    this.status = status;
  }
}

export interface HttpConnectorOptions {
  /** Base URL of the cloud, e.g. http://127.0.0.1:8101 */
  url: string;
  timeoutMs?: number;
  /** CA file and client certificate (mutual TLS); needs an https:// URL. Files are read here, once. */
  tls?: ClientTlsFiles;
  /** Sent as `authorization: Bearer <token>` with every batch; never logged. */
  token?: string;
  /** Requests in flight at once; DEFAULT_CONCURRENT_REQUESTS by default, 1 for one at a time. */
  maxConcurrentSends?: number;
}

function isKey(value: unknown): value is ObservationKey {
  const v = value as ObservationKey;
  return typeof v === "object" && v !== null && typeof v.sensorId === "string" && typeof v.seq === "number";
}

interface Answer {
  status: number;
  text: string;
}

export function createHttpConnector(options: HttpConnectorOptions): CloudConnector {
  const url = new URL(OBSERVATIONS_PATH, options.url);
  const endpoint = url.toString();
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new RangeError(`cloud URL must be http:// or https://, got ${options.url}`);
  checkTlsScheme(url, options.tls, "https:", "cloud");
  const secure = url.protocol === "https:";
  const tls = readClientTls(options.tls, "cloud TLS");
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Keep-alive as fetch did: one TLS handshake, not one per batch.
  const agent = secure ? new HttpsAgent({ keepAlive: true, ...tls }) : new HttpAgent({ keepAlive: true });
  const request = secure ? httpsRequest : httpRequest;
  // Aborted by close() so a shutdown does not wait out a hung request.
  const closing = new AbortController();
  const credential: Record<string, string> = options.token === undefined ? {} : { authorization: bearer(options.token) };

  function post(body: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      if (closing.signal.aborted) return reject(new CloudRequestError(`POST ${endpoint}: aborted by close`));
      const req = request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...credential } });
      let failed = false;
      // The first reason wins: the destroy that follows it raises an error of its own.
      const fail = (error: CloudRequestError) => {
        if (failed) return;
        failed = true;
        clearTimeout(timer);
        closing.signal.removeEventListener("abort", onClose);
        req.destroy();
        reject(error);
      };
      const timer = setTimeout(() => fail(new CloudRequestError(`POST ${endpoint}: no answer within ${timeoutMs} ms`)), timeoutMs);
      const onClose = () => fail(new CloudRequestError(`POST ${endpoint}: aborted by close`));
      closing.signal.addEventListener("abort", onClose);
      req.on("error", (error) => fail(new CloudRequestError(`POST ${endpoint}: ${describeLinkError(error, "cloud", secure)}`)));
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_ANSWER_BYTES) fail(new CloudRequestError(`POST ${endpoint}: answer longer than ${MAX_ANSWER_BYTES} bytes`, res.statusCode));
          else chunks.push(chunk);
        });
        res.on("error", (error) => fail(new CloudRequestError(`POST ${endpoint}: ${error.message}`, res.statusCode)));
        res.on("end", () => {
          if (failed) return;
          failed = true;
          clearTimeout(timer);
          closing.signal.removeEventListener("abort", onClose);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
        });
      });
      req.end(body);
    });
  }

  async function send(batch: readonly RelayedObservation[]): Promise<CloudAck> {
    const { status, text } = await post(JSON.stringify({ observations: batch }));
    if (status < 200 || status > 299) {
      throw new CloudRequestError(`POST ${endpoint}: HTTP ${status}: ${text.slice(0, 200)}`, status);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CloudRequestError(`POST ${endpoint}: answer is not JSON`, status);
    }
    const acked = (body as { acked?: unknown }).acked;
    if (!Array.isArray(acked) || !acked.every(isKey)) {
      throw new CloudRequestError(`POST ${endpoint}: answer has no valid "acked" list`, status);
    }
    return { acked };
  }

  const maxConcurrentSends = options.maxConcurrentSends ?? DEFAULT_CONCURRENT_REQUESTS;
  if (!Number.isInteger(maxConcurrentSends) || maxConcurrentSends < 1) throw new RangeError(`maxConcurrentSends must be a positive integer, got ${maxConcurrentSends}`);
  return {
    name: `http ${options.url}`,
    maxConcurrentSends,
    send,
    async close() {
      closing.abort();
      agent.destroy();
    },
  };
}
