/*
 * One Server-Sent Events subscriber of an offset-ordered log (observations,
 * sensor registrations).
 *
 * The session keeps a cursor (the last offset sent) and, when woken, reads
 * the store after it, page by page, honouring backpressure. New observations
 * only wake it; the data always comes from the store. So a subscriber that
 * resumes, falls behind or is woken mid-page never misses or repeats an event.
 */
import type { ServerResponse } from "node:http";

/** Rows read per page while catching up. */
const PAGE = 500;

/** Comment line sent this often so idle proxies keep the connection. */
export const SSE_HEARTBEAT_MS = 15_000;

/** Rows after `offset`, oldest first; each row's `offset` becomes its event id. */
export type ReadAfter<Row extends { offset: number }> = (offset: number, limit: number) => Row[];

export class SseSession<Row extends { offset: number }> {
  readonly #res: ServerResponse;
  readonly #read: ReadAfter<Row>;
  readonly #data: (row: Row) => unknown;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #cursor: number;
  #pumping = false;
  #wokenWhilePumping = false;
  #closed = false;

  /** `data` picks what a row's event carries (the whole row by default). */
  constructor(res: ServerResponse, read: ReadAfter<Row>, after: number, onClose: () => void, data: (row: Row) => unknown = (row) => row) {
    this.#res = res;
    this.#read = read;
    this.#data = data;
    this.#cursor = after;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
    // Sends the headers now, so a client knows it is subscribed before the first event.
    res.write(`: subscribed after offset ${after}\n\n`);
    this.#heartbeat = setInterval(() => res.write(": keep-alive\n\n"), SSE_HEARTBEAT_MS);
    res.once("close", () => {
      this.#closed = true;
      clearInterval(this.#heartbeat);
      onClose();
    });
  }

  /** Something was stored (or the session just started): send whatever is after the cursor. */
  wake(): void {
    if (this.#closed) return;
    if (this.#pumping) {
      this.#wokenWhilePumping = true;
      return;
    }
    this.#pumping = true;
    this.#pump()
      // A store that fails mid-stream ends this subscription; the client resumes from its Last-Event-ID.
      .catch((error: Error) => this.#res.destroy(error))
      .finally(() => (this.#pumping = false));
  }

  end(): void {
    if (!this.#closed) this.#res.end();
  }

  async #pump(): Promise<void> {
    do {
      this.#wokenWhilePumping = false;
      for (;;) {
        if (this.#closed) return;
        const rows = this.#read(this.#cursor, PAGE);
        if (rows.length === 0) break;
        const text = rows.map((row) => `id: ${row.offset}\ndata: ${JSON.stringify(this.#data(row))}\n\n`).join("");
        this.#cursor = rows[rows.length - 1].offset;
        if (!this.#res.write(text)) await this.#drained();
        if (rows.length < PAGE) break;
      }
    } while (this.#wokenWhilePumping);
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#res.off("drain", done);
        this.#res.off("close", done);
        resolve();
      };
      this.#res.once("drain", done);
      this.#res.once("close", done);
    });
  }
}
