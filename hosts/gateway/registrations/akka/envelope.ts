/*
 * What one message of the registration stream says, checked, free of I/O:
 * its position (persistence id, seq_nr, timestamp), and the registration its
 * payload carries. Every refusal names the pid, seq_nr and field at fault,
 * never a secret's value.
 */
import type { AnyMessage, Offset, StreamOut } from "../../../grpc/messages.js";
import { PayloadError, REGISTERED, unpackAny } from "../../../grpc/payload.js";
import { parsePersistenceId, parseSeqNr, PersistenceIdError } from "../../../grpc/persistence-id.js";
import { millisOf, TimestampError } from "../../../grpc/timestamp.js";
import { MAX_SECRET_LENGTH } from "../event.js";
import type { EventTimestamp } from "./sequence.js";

/** Longest persistence id quoted in a log line: enough to recognise one, short enough that a hostile one cannot flood the log. */
export const MAX_LOGGED_ID_CHARS = 128;

export interface Envelope {
  kind: "event" | "filtered";
  persistenceId: string;
  seqNr: number;
  /** Null when missing or out of range; `timestampProblem` says which. */
  timestamp: EventTimestamp | null;
  timestampProblem: string | null;
  /** "" normal, "BT" backtracking (no payload), "PS" pub-sub. */
  source: string;
  /** Null for a filtered event. */
  payload: AnyMessage | null;
}

/** Not placeable: without a pid and a usable seq_nr the event has no position to record. */
export type EnvelopeReading = { ok: true; envelope: Envelope } | { ok: false; reason: string };

export interface StreamRegistration {
  sensorId: string;
  /** In the clear; the projection keeps only its digest. Never log it. */
  secret: string;
  /** The event's timestamp, milliseconds since the epoch. */
  registeredAt: number;
}

export type RegistrationReading = { ok: true; registration: StreamRegistration } | { ok: false; reason: string };

/**
 * A persistence id as log lines and their fields show it: up to its first
 * control character and at most MAX_LOGGED_ID_CHARS, "…" marking a cut.
 * What follows a control character is no id but the bytes of a message
 * whose framing is broken (a length that swallowed the fields after it),
 * and those fields may be the payload, whose secret a log must never hold.
 */
export function shownId(id: string): string {
  const control = id.search(/[\u0000-\u001f\u007f-\u009f]/);
  const shown = control >= 0 ? id.slice(0, control) : id;
  const cut = shown.length > MAX_LOGGED_ID_CHARS ? shown.slice(0, MAX_LOGGED_ID_CHARS) : shown;
  return cut.length < id.length ? `${cut}…` : cut;
}

export function quoteId(id: string): string {
  return JSON.stringify(shownId(id));
}

/** "Registration|7 seq_nr 3", for log lines. */
export function describePosition(persistenceId: string, seqNr: number | string): string {
  return `${quoteId(persistenceId)} seq_nr ${seqNr}`;
}

function readTimestamp(offset: Offset | null): { timestamp: EventTimestamp | null; problem: string | null } {
  const raw = offset?.timestamp;
  if (raw === null || raw === undefined) return { timestamp: null, problem: "the event has no offset timestamp" };
  try {
    millisOf(raw); // checks seconds and nanos
    return { timestamp: { seconds: Number(raw.seconds), nanos: raw.nanos }, problem: null };
  } catch (error) {
    if (error instanceof TimestampError) return { timestamp: null, problem: error.message };
    throw error;
  }
}

export function readEnvelope(out: StreamOut): EnvelopeReading {
  const body = out.message === "event" ? out.event : out.message === "filtered_event" ? out.filtered_event : null;
  if (body === null || body === undefined) return { ok: false, reason: `stream message "${String((out as { message?: unknown }).message)}" is neither an event nor a filtered event` };
  const persistenceId = body.persistence_id;
  if (typeof persistenceId !== "string" || persistenceId === "") return { ok: false, reason: `event without a persistence id (seq_nr ${body.seq_nr})` };
  let seqNr: number;
  try {
    seqNr = parseSeqNr(body.seq_nr, persistenceId);
  } catch (error) {
    if (error instanceof PersistenceIdError) return { ok: false, reason: `event of ${quoteId(persistenceId)}: ${error.message.replace(persistenceId, "it")}` };
    throw error;
  }
  const { timestamp, problem } = readTimestamp(body.offset);
  const payload = out.message === "event" ? out.event.payload : null;
  return { ok: true, envelope: { kind: out.message === "event" ? "event" : "filtered", persistenceId, seqNr, timestamp, timestampProblem: problem, source: body.source, payload } };
}

/** The registration an event carries: sensor id = entity id (any string), secret from iot.registration.Registered. */
export function readRegistration(envelope: Envelope): RegistrationReading {
  const at = describePosition(envelope.persistenceId, envelope.seqNr);
  if (envelope.timestamp === null) return { ok: false, reason: `${at}: ${envelope.timestampProblem}` };
  let sensorId: string;
  try {
    sensorId = parsePersistenceId(envelope.persistenceId).entityId;
  } catch (error) {
    if (error instanceof PersistenceIdError) return { ok: false, reason: `${at}: the persistence id is not "<EntityType>|<entityId>"` };
    throw error;
  }
  let secret: unknown;
  try {
    secret = unpackAny<{ secret: { value?: unknown } | null }>(envelope.payload, [REGISTERED]).message.secret?.value;
  } catch (error) {
    if (error instanceof PayloadError) return { ok: false, reason: `${at}: ${error.message}` };
    throw error;
  }
  if (typeof secret !== "string" || secret.length === 0) return { ok: false, reason: `${at}: Registered has no secret (empty secret.value)` };
  if (secret.length > MAX_SECRET_LENGTH) return { ok: false, reason: `${at}: secret of ${secret.length} characters (at most ${MAX_SECRET_LENGTH})` };
  return { ok: true, registration: { sensorId, secret, registeredAt: millisOf(envelope.timestamp) } };
}
