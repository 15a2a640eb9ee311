/*
 * Server-Sent Events framing (WHATWG HTML, "event stream interpretation"),
 * fed text as it arrives in whatever chunks the socket gives. No I/O: the
 * feed pushes chunks in and acts on the events that come out.
 *
 * Only what the cloud's streams use: `id`, `data` (lines joined by "\n"),
 * `event`; comments (": keep-alive") are dropped; `retry` is ignored, since
 * the feed's own backoff decides when to reconnect.
 */

export interface SseEvent {
  /** The event's `id` field, undefined when it had none. */
  id: string | undefined;
  /** "message" unless an `event` field named it. */
  type: string;
  data: string;
}

/**
 * A line longer than this is not one of the cloud's events (a registration
 * is about 200 bytes); the parser refuses it rather than buffer without end.
 */
export const MAX_SSE_LINE_CHARS = 64 * 1024;

export class SseLineTooLong extends Error {
  constructor(length: number) {
    super(`SSE line of more than ${MAX_SSE_LINE_CHARS} characters (${length} buffered)`);
    this.name = "SseLineTooLong";
  }
}

export class SseParser {
  #pending = "";
  #id: string | undefined;
  #type = "";
  #data: string[] = [];
  #hasData = false;

  /** Feeds one decoded chunk; returns the events it completed. Throws SseLineTooLong. */
  push(chunk: string): SseEvent[] {
    this.#pending += chunk;
    const events: SseEvent[] = [];
    for (;;) {
      const end = this.#pending.search(/\r\n|\r|\n/);
      if (end < 0) break;
      // A lone "\r" at the end of a chunk may be the first half of "\r\n": wait for more.
      if (this.#pending[end] === "\r" && end === this.#pending.length - 1) break;
      const line = this.#pending.slice(0, end);
      this.#pending = this.#pending.slice(end + (this.#pending.startsWith("\r\n", end) ? 2 : 1));
      const event = this.#line(line);
      if (event) events.push(event);
    }
    if (this.#pending.length > MAX_SSE_LINE_CHARS) throw new SseLineTooLong(this.#pending.length);
    return events;
  }

  #line(line: string): SseEvent | undefined {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      this.#data.push(value);
      this.#hasData = true;
    } else if (field === "id" && !value.includes("\0")) {
      this.#id = value;
    } else if (field === "event") {
      this.#type = value;
    }
    return undefined;
  }

  #dispatch(): SseEvent | undefined {
    const event = this.#hasData ? { id: this.#id, type: this.#type || "message", data: this.#data.join("\n") } : undefined;
    // The id persists across events by the spec, but the cloud sends one with every event;
    // resetting it means an event without one is seen as such.
    this.#id = undefined;
    this.#type = "";
    this.#data = [];
    this.#hasData = false;
    return event;
  }
}
