/*
 * EventProducerService: the cloud's journal (registrations, relayed
 * observations) for Akka-style consumers. EventsBySlices replays after the
 * InitReq's offset, then pushes live; LoadEvent and EventTimestamp look up
 * one event. Errors are the statuses an Akka consumer expects: the first
 * message not an InitReq is INVALID_ARGUMENT, an unknown stream NOT_FOUND;
 * a caller whose role may not read the stream gets PERMISSION_DENIED
 * (grpc-access.ts; the interceptor has already refused the unauthenticated).
 */
import * as grpc from "@grpc/grpc-js";
import type { EventTimestampRequest, LoadEventRequest, StreamIn, StreamOut } from "../../../hosts/grpc/messages.js";
import { parseSeqNr, PersistenceIdError, SLICE_COUNT } from "../../../hosts/grpc/persistence-id.js";
import { TimestampError, timestampFromMicros } from "../../../hosts/grpc/timestamp.js";
import type { Logger } from "../../../hosts/log/logger.js";
import { STREAM_IDS, type EventJournal } from "./event-journal.js";
import type { CloudGrpcStats } from "./grpc-stats.js";
import { refuse, statusError } from "./grpc-status.js";
import { SliceStreamSession, streamOut } from "./slice-stream.js";
import { cursorOf } from "./stream-cursor.js";
import type { StatusError } from "./grpc-status.js";
import { streamAction, type Caller } from "./grpc-access.js";
import type { CloudAction } from "../access.js";

/** The status error for a caller that may not do `action` (already counted and logged), or undefined. */
export type Authorize = (action: CloudAction, call: Caller, what: string) => StatusError | undefined;

export interface ProducerService {
  implementation: grpc.UntypedServiceImplementation;
  /** New events were stored in `streamId`: live subscribers send them. */
  wake(streamId: string): void;
  /** Stops every subscriber (the server then cancels their calls). */
  closeAll(): void;
}

function parseInit(init: Extract<StreamIn, { message: "init" }>["init"]): { sliceMin: number; sliceMax: number; cursor: ReturnType<typeof cursorOf> } {
  const { slice_min: sliceMin, slice_max: sliceMax } = init;
  if (!(sliceMin >= 0 && sliceMin <= sliceMax && sliceMax < SLICE_COUNT)) {
    throw new RangeError(`slice range ${sliceMin}..${sliceMax} is not within 0..${SLICE_COUNT - 1}`);
  }
  return { sliceMin, sliceMax, cursor: cursorOf(init.offset) };
}

function lookupKey(request: LoadEventRequest | EventTimestampRequest): { streamId: string; persistenceId: string; seqNr: number } {
  if (!STREAM_IDS.includes(request.stream_id)) throw statusError(grpc.status.NOT_FOUND, `unknown stream id "${request.stream_id}" (this cloud has ${STREAM_IDS.join(", ")})`);
  try {
    return { streamId: request.stream_id, persistenceId: request.persistence_id, seqNr: parseSeqNr(String(request.seq_nr), request.persistence_id) };
  } catch (error) {
    throw statusError(grpc.status.INVALID_ARGUMENT, (error as Error).message);
  }
}

export function producerService(journal: EventJournal, stats: CloudGrpcStats, log: Logger, authorize: Authorize): ProducerService {
  const sessions = new Set<SliceStreamSession>();

  function eventsBySlices(call: grpc.ServerDuplexStream<StreamIn, StreamOut>): void {
    let session: SliceStreamSession | undefined;
    const fail = (code: grpc.status, details: string) => {
      stats.callsRefused++;
      refuse(call, code, details, log, "EventsBySlices");
      session?.close();
    };
    call.on("data", (message: StreamIn) => {
      if (session === undefined) {
        if (message.message !== "init") return fail(grpc.status.INVALID_ARGUMENT, `the first message must be an InitReq, got ${message.message}`);
        const streamId = message.init.stream_id;
        if (!STREAM_IDS.includes(streamId)) return fail(grpc.status.NOT_FOUND, `unknown stream id "${streamId}" (this cloud has ${STREAM_IDS.join(", ")})`);
        const refusal = authorize(streamAction(streamId), call, `EventsBySlices ${streamId}`);
        if (refusal !== undefined) return void call.emit("error", refusal);
        let init: ReturnType<typeof parseInit>;
        try {
          init = parseInit(message.init);
        } catch (error) {
          if (error instanceof RangeError || error instanceof TimestampError || error instanceof PersistenceIdError) return fail(grpc.status.INVALID_ARGUMENT, `InitReq: ${error.message}`);
          throw error;
        }
        session = new SliceStreamSession(call, journal, { streamId, sliceMin: init.sliceMin, sliceMax: init.sliceMax }, init.cursor, () => stats.eventsSent++);
        sessions.add(session);
        stats.producerStreamsOpen++;
        log.info(`EventsBySlices ${streamId} slices ${init.sliceMin}-${init.sliceMax} from ${init.cursor.micros} µs`, { peer: call.getPeer() });
        return session.wake();
      }
      if (message.message === "init") return fail(grpc.status.INVALID_ARGUMENT, "InitReq sent twice on one stream");
      if (message.message === "replay") {
        for (const { persistence_id, seq_nr } of message.replay.persistence_id_offset) {
          try {
            session.replay(persistence_id, parseSeqNr(seq_nr, persistence_id));
          } catch (error) {
            return fail(grpc.status.INVALID_ARGUMENT, `ReplayReq: ${(error as Error).message}`);
          }
        }
      }
      // FilterReq: accepted and ignored (see slice-stream.ts).
    });
    const ended = () => {
      if (session === undefined || !sessions.delete(session)) return;
      session.close();
      stats.producerStreamsOpen--;
    };
    call.on("cancelled", ended);
    call.on("close", ended);
    call.on("error", ended);
  }

  return {
    implementation: {
      EventsBySlices: eventsBySlices,
      LoadEvent(call: grpc.ServerUnaryCall<LoadEventRequest, StreamOut>, callback: grpc.sendUnaryData<StreamOut>) {
        try {
          const { streamId, persistenceId, seqNr } = lookupKey(call.request);
          const refusal = authorize(streamAction(streamId), call, `LoadEvent ${streamId}`);
          if (refusal !== undefined) throw refusal;
          const event = journal.load(streamId, persistenceId, seqNr);
          if (event === undefined) throw statusError(grpc.status.NOT_FOUND, `no event ${persistenceId} seq_nr ${seqNr} in ${streamId}`);
          callback(null, streamOut(event));
        } catch (error) {
          callback(error as grpc.ServiceError);
        }
      },
      EventTimestamp(call: grpc.ServerUnaryCall<EventTimestampRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
        try {
          const { streamId, persistenceId, seqNr } = lookupKey(call.request);
          const refusal = authorize(streamAction(streamId), call, `EventTimestamp ${streamId}`);
          if (refusal !== undefined) throw refusal;
          const event = journal.load(streamId, persistenceId, seqNr);
          if (event === undefined) throw statusError(grpc.status.NOT_FOUND, `no event ${persistenceId} seq_nr ${seqNr} in ${streamId}`);
          callback(null, { timestamp: timestampFromMicros(event.micros) });
        } catch (error) {
          callback(error as grpc.ServiceError);
        }
      },
    },
    wake(streamId) {
      for (const session of sessions) if (session.streamId === streamId) session.wake();
    },
    closeAll() {
      for (const session of sessions) session.close();
    },
  };
}
