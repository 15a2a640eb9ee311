/*
 * Fetching the full event behind a backtracking one (EventProducerService.
 * LoadEvent), and what its answer means: the event, a reason to skip it (the
 * producer no longer has it, or answered for another event), or a reason to
 * restart the stream and get it again (any other failure: it may pass).
 */
import * as grpc from "@grpc/grpc-js";
import type { LoadEventRequest, LoadEventResponse, StreamOut } from "../../../grpc/messages.js";
import { describePosition, readEnvelope, type Envelope } from "./envelope.js";

/** A LoadEvent is one journal read; 10 s means the producer is in trouble, and the stream restarts to retry it. */
export const LOAD_EVENT_TIMEOUT_MS = 10_000;

/** The calls of EventProducerService the consumer makes, as grpc-js's generated client has them. */
export type ProducerClient = grpc.Client & {
  EventsBySlices(options?: grpc.CallOptions): grpc.ClientDuplexStream<{ init: Record<string, unknown> }, StreamOut>;
  LoadEvent(request: LoadEventRequest, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: LoadEventResponse) => void): grpc.ClientUnaryCall;
};

export type LoadResult =
  | { outcome: "loaded"; envelope: Envelope }
  /** It cannot be had: record its position as a bad event. */
  | { outcome: "skip"; reason: string }
  /** It may be had later: restart the stream from the stored offset. */
  | { outcome: "retry"; reason: string };

export function statusText(status: { code: number; details: string }): string {
  return `${grpc.status[status.code] ?? "status"} (${status.code}): ${status.details}`;
}

/** What LoadEvent's answer (or failure) for backtracking event `bt` means; no I/O. */
export function judgeLoadAnswer(bt: Envelope, error: Partial<grpc.ServiceError> | null, response: LoadEventResponse | undefined): LoadResult {
  const at = describePosition(bt.persistenceId, bt.seqNr);
  if (error !== null || response === undefined) {
    const text = error?.code === undefined ? String(error?.message ?? "no answer") : statusText({ code: error.code, details: error.details ?? "" });
    if (error?.code === grpc.status.NOT_FOUND) return { outcome: "skip", reason: `${at}: LoadEvent answered ${text}` };
    return { outcome: "retry", reason: `LoadEvent of ${at} failed: ${text}` };
  }
  const reading = readEnvelope(response);
  if (!reading.ok) return { outcome: "skip", reason: `${at}: LoadEvent answered with an unusable event: ${reading.reason}` };
  const loaded = reading.envelope;
  if (loaded.persistenceId !== bt.persistenceId || loaded.seqNr !== bt.seqNr) {
    return { outcome: "skip", reason: `${at}: LoadEvent answered with another event, ${describePosition(loaded.persistenceId, loaded.seqNr)}` };
  }
  // The same event: the backtracking copy's timestamp stands in if the loaded one has none.
  return { outcome: "loaded", envelope: loaded.timestamp === null ? { ...loaded, timestamp: bt.timestamp, timestampProblem: bt.timestampProblem, offsets: bt.offsets } : loaded };
}

/** Calls LoadEvent for `bt`; `track` receives the call so the caller can cancel it on close. */
export function loadFullEvent(client: ProducerClient, streamId: string, bt: Envelope, track: (call: grpc.ClientUnaryCall | undefined) => void): Promise<LoadResult> {
  const request: LoadEventRequest = { stream_id: streamId, persistence_id: bt.persistenceId, seq_nr: bt.seqNr, replica_info: null };
  return new Promise((resolve) => {
    track(
      client.LoadEvent(request, { deadline: Date.now() + LOAD_EVENT_TIMEOUT_MS }, (error, response) => {
        track(undefined);
        resolve(judgeLoadAnswer(bt, error, response));
      }),
    );
  });
}
