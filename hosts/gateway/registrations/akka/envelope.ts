/*
 * What one message of the registration stream says, checked, free of I/O:
 * its position (persistence id, seq_nr, timestamp), and the registration its
 * payload carries. Every refusal names the pid, seq_nr and field at fault,
 * never a secret's value.
 */
import type { AnyMessage, Offset, StreamOut } from "../../../grpc/messages.js";
import { PayloadError, REGISTERED, unpackAny } from "../../../grpc/payload.js";
import { parsePersistenceId, parseSeqNr, PersistenceIdError, SLICE_COUNT } from "../../../grpc/persistence-id.js";
import { millisOf, TimestampError } from "../../../grpc/timestamp.js";
import { MAX_SECRET_LENGTH } from "../event.js";
import type { EventOffset, EventTimestamp, SeenSeqNr } from "./sequence.js";

/** Longest persistence id quoted in a log line: enough to recognise one, short enough that a hostile one cannot flood the log. */
export const MAX_LOGGED_ID_CHARS = 128;
/**
 * Seen pairs kept from one Offset. Akka sends the pids of one timestamp,
 * a handful; a producer sending thousands would make every stored offset
 * (and every InitReq) that large, so more is refused as malformed.
 */
export const MAX_SEEN_PER_OFFSET = 1000;

export interface Envelope {
  kind: "event" | "filtered";
  persistenceId: string;
  seqNr: number;
  /** The event's own time (its slice's offset when it has several); null when missing or unusable, `timestampProblem` says why. */
  timestamp: EventTimestamp | null;
  timestampProblem: string | null;
  /** Every offset it carries, checked; empty when `timestampProblem` is set. */
  offsets: EventOffset[];
  /** "" normal, "BT" backtracking (no payload), "PS" pub-sub. */
  source: string;
  /** Null for a filtered event. */
  payload: AnyMessage | null;
}

/** Not placeable: without a pid and a usable seq_nr the event has no position to record. */
export type EnvelopeReading = { ok: true; envelope: Envelope } | { ok: false; reason: string };

export interface StreamRegistration {
  sensorId: string;
  /**
   * As Registered.secret.value carries it: the secret in the clear (the Akka
   * sample's cloud), or its digest "sha256:<hex>" (the reference cloud's,
   * hosts/auth/secret-digest.ts). The projection keeps only the digest. Never log it.
   */
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

/** An entity type, then "|": how every persistence id starts (Akka's entity type keys are names such as "Registration"). */
const PERSISTENCE_ID_START = /^[A-Za-z][A-Za-z0-9_.$-]*\|/;

/**
 * A persistence id as log lines and their fields show it: as `shownId` does
 * when it starts as one ("Registration|…"), else only its length. A string
 * of another form is no id either but bytes a broken frame put there, the
 * payload's own fields among them: a secret by itself reads as a string
 * with no control character before it (a real secret, hex or
 * "sha256:<hex>", never holds a "|").
 */
export function shownPersistenceId(id: string): string {
  return PERSISTENCE_ID_START.test(id) ? shownId(id) : `(${id.length} characters that are not "<EntityType>|<entityId>")`;
}

export function quotePersistenceId(id: string): string {
  return PERSISTENCE_ID_START.test(id) ? quoteId(id) : shownPersistenceId(id);
}

/** "Registration|7 seq_nr 3", for log lines. */
export function describePosition(persistenceId: string, seqNr: number | string): string {
  return `${quotePersistenceId(persistenceId)} seq_nr ${seqNr}`;
}

function readTimestamp(raw: Offset["timestamp"] | undefined): EventTimestamp {
  if (raw === null || raw === undefined) throw new TimestampError("the event has an offset without a timestamp");
  millisOf(raw); // checks seconds and nanos
  return { seconds: Number(raw.seconds), nanos: raw.nanos };
}

function readSeen(offset: Offset, i: number): SeenSeqNr[] {
  if (offset.seen.length > MAX_SEEN_PER_OFFSET) throw new TimestampError(`offset[${i}] lists ${offset.seen.length} seen pairs (at most ${MAX_SEEN_PER_OFFSET})`);
  return offset.seen.map((pair) => {
    if (typeof pair.persistence_id !== "string" || pair.persistence_id === "") throw new TimestampError(`offset[${i}] has a seen pair without a persistence id`);
    try {
      return { persistenceId: pair.persistence_id, seqNr: parseSeqNr(pair.seq_nr, pair.persistence_id) };
    } catch (error) {
      if (error instanceof PersistenceIdError) throw new TimestampError(`offset[${i}] seen: ${error.message.replace(pair.persistence_id, quotePersistenceId(pair.persistence_id))}`);
      throw error;
    }
  });
}

/** The event's offsets (upstream's `repeated Offset`), each checked, and the one that dates the event itself. */
function readOffsets(offsets: readonly Offset[] | null | undefined, eventSlice: number): { offsets: EventOffset[]; timestamp: EventTimestamp | null; problem: string | null } {
  const list = offsets ?? [];
  if (list.length === 0) return { offsets: [], timestamp: null, problem: "the event has no offset timestamp" };
  if (list.length > SLICE_COUNT + 1) return { offsets: [], timestamp: null, problem: `the event has ${list.length} offsets (at most one per slice and one for the stream)` };
  try {
    const read = list.map((offset, i): EventOffset => {
      const slice = offset.slice ?? null;
      if (slice !== null && !(Number.isInteger(slice) && slice >= 0 && slice < SLICE_COUNT)) throw new TimestampError(`offset[${i}] is for slice ${slice} (slices are 0..${SLICE_COUNT - 1})`);
      return { slice, timestamp: readTimestamp(offset.timestamp), seen: readSeen(offset, i) };
    });
    const own = read.find((o) => o.slice === eventSlice) ?? read.find((o) => o.slice === null) ?? read[0];
    return { offsets: read, timestamp: own.timestamp, problem: null };
  } catch (error) {
    if (error instanceof TimestampError) return { offsets: [], timestamp: null, problem: error.message };
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
    if (error instanceof PersistenceIdError) return { ok: false, reason: `event of ${quotePersistenceId(persistenceId)}: ${error.message.replace(persistenceId, "it")}` };
    throw error;
  }
  const { offsets, timestamp, problem } = readOffsets(body.offset, body.slice);
  const payload = out.message === "event" ? out.event.payload : null;
  return { ok: true, envelope: { kind: out.message === "event" ? "event" : "filtered", persistenceId, seqNr, timestamp, timestampProblem: problem, offsets, source: body.source, payload } };
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
