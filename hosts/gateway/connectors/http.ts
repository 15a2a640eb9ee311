/*
 * The simplest honest connector: one JSON POST per batch to the reference
 * cloud's /api/v1/observations. Anything but a 2xx with a well-formed ack
 * is a failure the relay retries.
 */
import type { CloudAck, CloudConnector, ObservationKey, RelayedObservation } from "../connector.js";

export const OBSERVATIONS_PATH = "/api/v1/observations";

/** Longer than a healthy cloud needs for a batch; short enough that an outage shows within seconds. */
export const DEFAULT_TIMEOUT_MS = 10_000;

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
}

function isKey(value: unknown): value is ObservationKey {
  const v = value as ObservationKey;
  return typeof v === "object" && v !== null && typeof v.sensorId === "string" && typeof v.seq === "number";
}

export function createHttpConnector(options: HttpConnectorOptions): CloudConnector {
  const endpoint = new URL(OBSERVATIONS_PATH, options.url).toString();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Aborted by close() so a shutdown does not wait out a hung request.
  const closing = new AbortController();

  async function send(batch: readonly RelayedObservation[]): Promise<CloudAck> {
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ observations: batch }),
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), closing.signal]),
      });
    } catch (e) {
      const error = e as Error & { cause?: { code?: string } };
      if (error.name === "TimeoutError") throw new CloudRequestError(`POST ${endpoint}: no answer within ${timeoutMs} ms`);
      if (error.name === "AbortError") throw new CloudRequestError(`POST ${endpoint}: aborted by close`);
      const code = error.cause?.code ? ` (${error.cause.code})` : "";
      throw new CloudRequestError(`POST ${endpoint}: ${error.message}${code}`);
    }
    const text = await response.text().catch(() => "");
    if (!response.ok) {
      throw new CloudRequestError(`POST ${endpoint}: HTTP ${response.status}: ${text.slice(0, 200)}`, response.status);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CloudRequestError(`POST ${endpoint}: answer is not JSON`, response.status);
    }
    const acked = (body as { acked?: unknown }).acked;
    if (!Array.isArray(acked) || !acked.every(isKey)) {
      throw new CloudRequestError(`POST ${endpoint}: answer has no valid "acked" list`, response.status);
    }
    return { acked };
  }

  return {
    name: `http ${options.url}`,
    send,
    async close() {
      closing.abort();
    },
  };
}
