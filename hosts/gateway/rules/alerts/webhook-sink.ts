/*
 * Alerts to an HTTP webhook: one POST per alert, its JSON as the body and
 * its idempotency key in an Idempotency-Key header. A 2xx is delivery; a
 * timeout, a network error, a 408, 429 or 5xx is retried (with backoff, by
 * alert-dispatch.ts); another 4xx is a refusal, skipped and counted.
 */
import { SinkRefusal, type AlertMessage, type AlertSink } from "./alert-message.js";

/** A receiver slower than this is treated as down (and retried). */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** The answer's body is not read beyond this. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface WebhookSinkOptions {
  url: string;
  /** Sent as "authorization: Bearer <token>"; never logged. */
  token?: string;
  timeoutMs?: number;
}

/** The start of an answer's body (for the log), never more than MAX_ANSWER_BYTES of it. */
async function readCapped(answer: Response): Promise<string> {
  const reader = answer.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_ANSWER_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body cut short says nothing the status did not.
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString("utf8");
}

export function createWebhookSink(options: WebhookSinkOptions): AlertSink {
  const url = new URL(options.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new RangeError(`alert webhook URL must be http:// or https://, got ${url.protocol}`);
  const target = `${url.origin}${url.pathname}`;
  const closing = new AbortController();
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  return {
    name: "webhook",
    target,
    async deliver(alert: AlertMessage): Promise<void> {
      const headers: Record<string, string> = {
        "content-type": "application/json",
        "idempotency-key": alert.idempotencyKey,
        "user-agent": "xsedge-gateway",
      };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      let answer: Response;
      try {
        answer = await fetch(url, {
          method: "POST",
          headers,
          body: JSON.stringify(alert),
          signal: AbortSignal.any([closing.signal, AbortSignal.timeout(timeoutMs)]),
          redirect: "error",
        });
      } catch (e) {
        throw new Error(`POST ${target}: ${(e as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (e as Error).message}`);
      }
      const text = await readCapped(answer);
      if (answer.ok) return;
      const detail = `POST ${target}: ${answer.status} ${text.slice(0, 200)}`.trim();
      if (answer.status >= 400 && answer.status < 500 && answer.status !== 408 && answer.status !== 429) throw new SinkRefusal(detail);
      throw new Error(detail);
    },
    async close() {
      closing.abort();
    },
  };
}
