/*
 * One EventsBySlices subscriber: replays the journal after its offset, then
 * follows it live. Like the SSE sessions (hosts/http/sse.ts), new events
 * only wake it and the data always comes from the journal, so a subscriber
 * that falls behind or is woken mid-page never misses or repeats an event.
 *
 * Memory per subscriber is bounded: one page is read at a time, and when
 * the call's write buffer is full (gRPC/HTTP-2 flow control: the client is
 * not reading), the session waits for it to drain before writing more. A
 * stalled subscriber costs one page and a socket; nothing polls.
 *
 * ReplayReq is served: the requested persistence ids from the given seq_nr,
 * in between pages. Filters (InitReq.filter, FilterReq) are accepted and
 * ignored: every event of the slice range is sent.
 */
import * as grpc from "@grpc/grpc-js";
import type { StreamOut } from "../../../hosts/grpc/messages.js";
import { timestampFromMicros } from "../../../hosts/grpc/timestamp.js";
import type { EventJournal, JournalEvent } from "./event-journal.js";
import { statusError } from "./grpc-status.js";
import { advance, isAfter, type StreamCursor } from "./stream-cursor.js";

/** Events read per page: a few tens of kB of events held per subscriber while it catches up. */
export const SLICE_STREAM_PAGE = 100;

type Call = grpc.ServerDuplexStream<unknown, StreamOut>;

export interface SliceRange {
  streamId: string;
  sliceMin: number;
  sliceMax: number;
}

export function streamOut(event: JournalEvent): StreamOut {
  const pair = { persistence_id: event.persistenceId, seq_nr: String(event.seqNr) };
  const { seconds, nanos } = timestampFromMicros(event.micros);
  return {
    message: "event",
    event: {
      ...pair,
      slice: event.slice,
      offset: [{ timestamp: { seconds: String(seconds), nanos }, seen: [pair] }],
      payload: event.payload,
      source: "",
      metadata: null,
      tags: [],
    },
  };
}

export class SliceStreamSession {
  readonly #call: Call;
  readonly #journal: EventJournal;
  readonly #range: SliceRange;
  readonly #onSent: () => void;
  #cursor: StreamCursor;
  readonly #replays: { persistenceId: string; fromSeqNr: number }[] = [];
  #pumping = false;
  #woken = false;
  #closed = false;

  constructor(call: Call, journal: EventJournal, range: SliceRange, cursor: StreamCursor, onSent: () => void) {
    this.#call = call;
    this.#journal = journal;
    this.#range = range;
    this.#cursor = cursor;
    this.#onSent = onSent;
  }

  get streamId(): string {
    return this.#range.streamId;
  }

  /** Something was stored (or the session just started): send what is after the cursor. */
  wake(): void {
    if (this.#closed) return;
    if (this.#pumping) {
      this.#woken = true;
      return;
    }
    this.#pumping = true;
    this.#pump()
      .catch((error: Error) => this.#call.emit("error", statusError(grpc.status.INTERNAL, `journal read failed: ${error.message}`)))
      .finally(() => (this.#pumping = false));
  }

  replay(persistenceId: string, fromSeqNr: number): void {
    this.#replays.push({ persistenceId, fromSeqNr });
    this.wake();
  }

  /** The call ended: stop at the next step. */
  close(): void {
    this.#closed = true;
  }

  async #pump(): Promise<void> {
    do {
      this.#woken = false;
      while (this.#replays.length > 0) {
        const { persistenceId, fromSeqNr } = this.#replays.shift()!;
        for (let from = fromSeqNr; ; ) {
          const page = this.#journal.eventsOf(this.#range.streamId, persistenceId, from, SLICE_STREAM_PAGE);
          for (const event of page) if (!(await this.#send(event))) return;
          if (page.length < SLICE_STREAM_PAGE) break;
          from = page[page.length - 1].seqNr + 1;
        }
      }
      for (;;) {
        const { streamId, sliceMin, sliceMax } = this.#range;
        const page = this.#journal.read(streamId, this.#cursor.micros, sliceMin, sliceMax, SLICE_STREAM_PAGE);
        for (const event of page) {
          if (!isAfter(this.#cursor, event)) continue;
          if (!(await this.#send(event))) return;
          this.#cursor = advance(this.#cursor, event);
        }
        if (page.length < SLICE_STREAM_PAGE) break;
      }
    } while (this.#woken || this.#replays.length > 0);
  }

  /** Writes one event, waiting while the call's buffer is full; false once the call has ended. */
  async #send(event: JournalEvent): Promise<boolean> {
    if (this.#closed) return false;
    const roomLeft = this.#call.write(streamOut(event));
    this.#onSent();
    if (!roomLeft) await this.#drained();
    return !this.#closed;
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#call.off("drain", done);
        this.#call.off("close", done);
        this.#call.off("cancelled", done);
        resolve();
      };
      this.#call.once("drain", done);
      this.#call.once("close", done);
      this.#call.once("cancelled", done);
    });
  }
}
