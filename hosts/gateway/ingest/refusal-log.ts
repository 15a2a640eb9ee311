/*
 * Log lines for refused input (publishes, CONNECTs) that a remote party
 * controls: a device publishing 10,000 malformed records a second, or
 * reconnecting with a wrong password in a tight loop, must not write
 * 10,000 lines a second to the SD card. Every refusal is still counted and
 * quarantined by its caller; only the lines are throttled.
 *
 * Two limits. Per (client id, reason): the first refusal is logged at once,
 * with its detail (the one an operator needs), then at most one line per
 * interval, carrying the count of those not logged meanwhile. And overall:
 * a flood from ever new client ids would make every key a first one, so
 * at most MAX_REFUSAL_LINES_PER_INTERVAL lines per interval whatever the
 * keys; the refusals this leaves out are summed on a line of their own
 * before the next line that is logged.
 *
 * `RefusalThrottle` decides (pure, given the clock's reading); `RefusalLog`
 * writes the lines.
 */
import type { Logger } from "../../log/logger.js";
import { LogThrottle, MAX_THROTTLED_KEYS } from "../../log/log-throttle.js";

/**
 * One line per client and reason per 10 s, as for UDP sources
 * (udp/udp-ingest.ts) and overload (outbox.ts): a misbehaving device stays
 * visible in `journalctl -f` without drowning the rest.
 */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * Refusal lines per interval, all clients together: two a second at most
 * (about 1 KiB of JSON each), yet room for the first refusal of 20 distinct
 * faulty devices every 10 s, more than a gateway's fleet is expected to
 * get wrong at once. Per RefusalLog: ingest, device auth, the broker's
 * connection lines and the external broker have one each.
 */
export const MAX_REFUSAL_LINES_PER_INTERVAL = 20;

/**
 * Client ids are the client's to choose (MQTT allows 65,535 bytes): a key
 * holds at most this much of one, so the throttle's memory is bounded by
 * MAX_THROTTLED_KEYS keys of this size. Ids sharing a longer prefix share a key.
 */
export const MAX_KEYED_CLIENT_ID_CHARS = 64;

export type RefusalLineVerdict =
  | { log: false }
  /** `suppressed`: this key's refusals not logged since its last line; `unlogged`: other refusals left out by the overall limit. */
  | { log: true; suppressed: number; unlogged: number };

export class RefusalThrottle {
  readonly intervalMs: number;
  readonly maxLines: number;
  readonly #perKey: LogThrottle;
  #windowStart = Number.NEGATIVE_INFINITY;
  #linesInWindow = 0;
  #unlogged = 0;

  constructor(intervalMs = REFUSAL_LOG_INTERVAL_MS, maxLines = MAX_REFUSAL_LINES_PER_INTERVAL, maxKeys = MAX_THROTTLED_KEYS) {
    if (!(maxLines >= 1)) throw new RangeError(`maxLines must be at least 1, got ${maxLines}`);
    this.intervalMs = intervalMs;
    this.maxLines = maxLines;
    this.#perKey = new LogThrottle(intervalMs, maxKeys);
  }

  /** Records one refusal; null is a publish with no client (a will). */
  note(clientId: string | null, reason: string, now: number): RefusalLineVerdict {
    const key = `${reason}\u0000${clientId === null ? "" : clientId.slice(0, MAX_KEYED_CLIENT_ID_CHARS)}`;
    const line = this.#perKey.note(key, now);
    if (!line.log) return { log: false };
    // A clock that stepped back starts a new window, as in LogThrottle.
    if (now < this.#windowStart || now - this.#windowStart >= this.intervalMs) {
      this.#windowStart = now;
      this.#linesInWindow = 0;
    }
    if (this.#linesInWindow >= this.maxLines) {
      // The key's own count restarts with its (unwritten) line, so what it stood for moves here.
      this.#unlogged += 1 + line.suppressed;
      return { log: false };
    }
    this.#linesInWindow++;
    const unlogged = this.#unlogged;
    this.#unlogged = 0;
    return { log: true, suppressed: line.suppressed, unlogged };
  }

  /** Keys held (at most MAX_THROTTLED_KEYS by default). */
  get keys(): number {
    return this.#perKey.size;
  }
}

/**
 * A refusal line's text and its client id field keep at most this much: a
 * remote party chooses them (client ids up to 65,535 bytes, topics, details
 * quoting its input), and even throttled lines must stay lines.
 */
export const MAX_REFUSAL_MESSAGE_CHARS = 512;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

export class RefusalLog {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #throttle: RefusalThrottle;

  constructor(logger: Logger, now: () => number = Date.now, throttle = new RefusalThrottle()) {
    this.#log = logger;
    this.#now = now;
    this.#throttle = throttle;
  }

  /** A warning for one refusal of `reason` from `clientId`, unless throttled; `fields` gain `suppressed`. */
  warn(clientId: string | null, reason: string, message: string, fields: Record<string, unknown>): void {
    const verdict = this.#throttle.note(clientId, reason, this.#now());
    if (!verdict.log) return;
    if (verdict.unlogged > 0) {
      const { maxLines, intervalMs } = this.#throttle;
      this.#log.warn(`${verdict.unlogged} refusals not logged: over ${maxLines} refusal lines in ${intervalMs / 1000} s (the counters have every one)`, {
        unlogged: verdict.unlogged,
      });
    }
    const more = verdict.suppressed > 0 ? ` (${verdict.suppressed} more like this since the last such line)` : "";
    const clientField = typeof fields.clientId === "string" ? { clientId: clip(fields.clientId, MAX_KEYED_CLIENT_ID_CHARS) } : {};
    this.#log.warn(clip(message, MAX_REFUSAL_MESSAGE_CHARS) + more, { ...fields, ...clientField, suppressed: verdict.suppressed });
  }
}
