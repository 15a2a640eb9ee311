/*
 * TypeScript shapes of the Akka Projection gRPC messages as grpc-js hands
 * them over with protocol.ts's loader options (snake_case, int64 as decimal
 * strings, oneof choice in `message`, unset sub-messages null). What we send
 * may give int64 fields as numbers; protobufjs accepts both.
 */

export type Int64 = string;
/** What we send: a number within 2^53, or a decimal string. */
export type Int64In = number | string;

export interface Timestamp {
  seconds: Int64;
  nanos: number;
}
export interface TimestampIn {
  seconds: Int64In;
  nanos: number;
}

export interface PersistenceIdSeqNr {
  persistence_id: string;
  seq_nr: Int64;
}

export interface Offset {
  timestamp: Timestamp | null;
  seen: PersistenceIdSeqNr[];
  /** Present when the producer keeps an offset per slice (proto3 `optional`: absent when unset). */
  slice?: number;
}
export interface OffsetIn {
  timestamp: TimestampIn;
  seen: { persistence_id: string; seq_nr: Int64In }[];
  slice?: number;
}

export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

export interface ReplicaInfo {
  replica_id: string;
  other_replica_ids: string[];
}

/** Decoded FilterCriteria: which one is in `message`; we accept and ignore filters. */
export interface FilterCriteria {
  message?: string;
  [criterion: string]: unknown;
}

export interface Event {
  persistence_id: string;
  seq_nr: Int64;
  slice: number;
  /** Upstream's `repeated Offset`: usually one; one per slice from a producer that offsets by slice. */
  offset: Offset[];
  payload: AnyMessage | null;
  /** "" normal, "BT" backtracking (no payload), "PS" pub-sub. */
  source: string;
  metadata: AnyMessage | null;
  tags: string[];
}
export interface EventIn {
  persistence_id: string;
  seq_nr: Int64In;
  slice: number;
  offset: OffsetIn[];
  payload: AnyMessage | null;
  source: string;
  tags?: string[];
}

export interface FilteredEvent {
  persistence_id: string;
  seq_nr: Int64;
  slice: number;
  offset: Offset[];
  source: string;
}
export interface FilteredEventIn {
  persistence_id: string;
  seq_nr: Int64In;
  slice: number;
  offset: OffsetIn[];
  source: string;
}

export interface InitReq {
  stream_id: string;
  slice_min: number;
  slice_max: number;
  offset: Offset[];
  filter: FilterCriteria[];
  replica_info: ReplicaInfo | null;
}

export type StreamIn =
  | { message: "init"; init: InitReq }
  | { message: "filter"; filter: { criteria: FilterCriteria[] } }
  | { message: "replay"; replay: { persistence_id_offset: PersistenceIdSeqNr[] } };

export type StreamOut = { message: "event"; event: Event } | { message: "filtered_event"; filtered_event: FilteredEvent };

export interface LoadEventRequest {
  stream_id: string;
  persistence_id: string;
  seq_nr: Int64In;
  replica_info?: ReplicaInfo | null;
}
export type LoadEventResponse = StreamOut;

export interface EventTimestampRequest {
  stream_id: string;
  persistence_id: string;
  seq_nr: Int64In;
}
export interface EventTimestampResponse {
  timestamp: Timestamp | null;
}

export interface ConsumerEventInit {
  origin_id: string;
  stream_id: string;
  fill_sequence_number_gaps: boolean;
}

export type ConsumeEventIn =
  | { message: "init"; init: ConsumerEventInit }
  | { message: "event"; event: Event }
  | { message: "filtered_event"; filtered_event: FilteredEvent }
  | { message: "keep_alive"; keep_alive: Record<string, never> };

export type ConsumeEventOut =
  | { message: "start"; start: { filter: FilterCriteria[]; replica_info: ReplicaInfo | null } }
  | { message: "ack"; ack: PersistenceIdSeqNr };

export interface RegisterRequest {
  sensor_entity_id: string;
  secret: string;
}
