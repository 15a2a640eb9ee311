/*
 * The warning a server writes for a request it refused with a 4xx: the
 * first per (status, client address) at once, then at most one line per
 * interval carrying the number left out, and at most MAX_HTTP_ERROR_LINES
 * per interval in all, so a client that floods a server with bad requests
 * costs it counters and answers, not its disk. Shared by the gateway's API
 * and the reference cloud.
 */
import type { IncomingMessage } from "node:http";
import type { Logger } from "../log/logger.js";
import { CappedLogThrottle } from "../log/capped-log-throttle.js";

/** As the gateway's other refusal lines: one per key per 10 s, two a second at most in all. */
export const HTTP_ERROR_LOG_INTERVAL_MS = 10_000;
export const MAX_HTTP_ERROR_LINES = 20;
/** A request line is the client's to choose: a log line keeps this much of it. */
export const MAX_LOGGED_URL_CHARS = 200;

export class HttpErrorLog {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #throttle = new CappedLogThrottle(HTTP_ERROR_LOG_INTERVAL_MS, MAX_HTTP_ERROR_LINES);

  constructor(logger: Logger, now: () => number = Date.now) {
    this.#log = logger;
    this.#now = now;
  }

  warn(req: IncomingMessage, status: number, message: string): void {
    // The socket is gone when the answer came after the connection closed (a 413 ends it).
    const address = req.socket?.remoteAddress ?? "unknown";
    const verdict = this.#throttle.note(`${status}\u0000${address}`, this.#now());
    if (!verdict.log) return;
    if (verdict.unlogged > 0) this.#log.warn(`${verdict.unlogged} refused requests not logged: over ${MAX_HTTP_ERROR_LINES} lines in ${HTTP_ERROR_LOG_INTERVAL_MS / 1000} s`, { unlogged: verdict.unlogged });
    const url = (req.url ?? "").slice(0, MAX_LOGGED_URL_CHARS);
    const more = verdict.suppressed > 0 ? ` (${verdict.suppressed} more like this since the last such line)` : "";
    this.#log.warn(`${req.method} ${url} -> ${status}: ${message.slice(0, 512)}${more}`, { status, address, suppressed: verdict.suppressed });
  }
}
