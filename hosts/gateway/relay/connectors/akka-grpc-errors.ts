/*
 * What can go wrong on a ConsumeEvent stream, named: the fault kinds the
 * connector counts, how a gRPC status maps to one, and how a server message
 * is read (an unreadable one is a "malformed" verdict, never a throw). Pure.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import { PersistenceIdError, parseSeqNr } from "../../../grpc/persistence-id.js";

export type ProducerFault =
  /** The server said no: PERMISSION_DENIED (stream id not accepted), UNAUTHENTICATED, NOT_FOUND, INVALID_ARGUMENT. */
  | "refused"
  /** No connection (down, TLS refused, unreachable). */
  | "unavailable"
  /** The server ended or broke the stream. */
  | "reset"
  /** The server sent bytes that are not a ConsumeEventOut. */
  | "malformed"
  | "start-timeout"
  | "ack-timeout"
  /** An observation that cannot become an event. */
  | "encoding"
  | "closed";

export class AkkaProducerError extends Error {
  constructor(readonly fault: ProducerFault, message: string, readonly code?: GrpcStatus) {
    super(message);
    this.name = "AkkaProducerError";
  }
}

const REFUSING: ReadonlySet<GrpcStatus> = new Set([GrpcStatus.PERMISSION_DENIED, GrpcStatus.UNAUTHENTICATED, GrpcStatus.NOT_FOUND, GrpcStatus.INVALID_ARGUMENT]);
// grpc-js ends a call with INTERNAL and this prefix when a response does not decode.
const PARSE_FAILURE = "Response message parsing error";

export function faultOfStatus(code: GrpcStatus, details: string): ProducerFault {
  if (REFUSING.has(code)) return "refused";
  if (code === GrpcStatus.UNAVAILABLE || code === GrpcStatus.DEADLINE_EXCEEDED) return "unavailable";
  if (code === GrpcStatus.INTERNAL && details.startsWith(PARSE_FAILURE)) return "malformed";
  return "reset";
}

/** The error for a stream that ended with `code`, naming the target and, when refused, the stream id. */
export function errorOfStatus(target: string, streamId: string, code: GrpcStatus, details: string): AkkaProducerError {
  const fault = faultOfStatus(code, details);
  const status = `${GrpcStatus[code] ?? code}: ${details}`;
  switch (fault) {
    case "refused":
      return new AkkaProducerError(fault, `${target} refused ConsumeEvent for stream id "${streamId}" (${status})`, code);
    case "unavailable":
      return new AkkaProducerError(fault, `${target} is unavailable (${status})`, code);
    case "malformed":
      return new AkkaProducerError(fault, `${target} sent a malformed ConsumeEventOut (${status})`, code);
    default:
      return new AkkaProducerError(fault, `${target} reset the ConsumeEvent stream (${status})`, code);
  }
}

export type ServerMessage =
  | { type: "start"; filters: number }
  | { type: "ack"; persistenceId: string; seqNr: number }
  | { type: "malformed"; reason: string };

/** Reads a decoded ConsumeEventOut (snake_case, int64 as strings, oneof in `message`). */
export function readServerMessage(raw: unknown): ServerMessage {
  const message = raw as { message?: unknown; start?: { filter?: unknown[] } | null; ack?: { persistence_id?: unknown; seq_nr?: unknown } | null };
  if (message?.message === "start") return { type: "start", filters: Array.isArray(message.start?.filter) ? message.start.filter.length : 0 };
  if (message?.message === "ack") {
    const pid = message.ack?.persistence_id;
    const seqNr = message.ack?.seq_nr;
    if (typeof pid !== "string" || pid === "") return { type: "malformed", reason: "ack without a persistence_id" };
    try {
      return { type: "ack", persistenceId: pid, seqNr: parseSeqNr(seqNr as string, pid) };
    } catch (error) {
      if (error instanceof PersistenceIdError) return { type: "malformed", reason: `ack with ${error.message}` };
      throw error;
    }
  }
  return { type: "malformed", reason: "neither start nor ack" };
}
