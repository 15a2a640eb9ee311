/*
 * The stand-in's view of the Akka Projection gRPC messages as
 * @grpc/proto-loader hands them over (keepCase, int64 as number, defaults,
 * `message` naming the member of a oneof that is set). Only the fields the
 * stand-in reads or writes are typed.
 */

export interface Timestamp { seconds: number; nanos: number }
export interface Any { type_url: string; value: Buffer | Uint8Array }
export interface PersistenceIdSeqNr { persistence_id: string; seq_nr: number }
export interface Offset { timestamp: Timestamp | null; seen: PersistenceIdSeqNr[]; slice?: number }
export interface ReplicaInfo { replica_id: string; other_replica_ids: string[] }

/** One FilterCriteria: `message` names the oneof member, which holds tags, matching, entity_ids, entity_id_offset or expression. */
export interface FilterCriteria {
  message?: string;
  [member: string]: unknown;
}

export interface InitReq {
  stream_id: string;
  slice_min: number;
  slice_max: number;
  offset: Offset[];
  filter: FilterCriteria[];
  replica_info?: ReplicaInfo | null;
}

export interface StreamIn {
  message?: "init" | "filter" | "replay";
  init?: InitReq | null;
  filter?: { criteria: FilterCriteria[] } | null;
  replay?: { persistence_id_offset: PersistenceIdSeqNr[] } | null;
}

export interface Event {
  persistence_id: string;
  seq_nr: number;
  slice: number;
  /** Upstream's repeated Offset. */
  offset: Offset[];
  payload: Any | null;
  source: string;
  metadata?: Any | null;
  tags: string[];
}

export interface FilteredEvent {
  persistence_id: string;
  seq_nr: number;
  slice: number;
  offset: Offset[];
  source: string;
}

export interface StreamOut {
  message?: "event" | "filtered_event";
  event?: Event | null;
  filtered_event?: FilteredEvent | null;
}

export interface ConsumerEventInit { origin_id: string; stream_id: string; fill_sequence_number_gaps: boolean }

export interface ConsumeEventIn {
  message?: "init" | "event" | "filtered_event" | "keep_alive";
  init?: ConsumerEventInit | null;
  event?: Event | null;
  filtered_event?: FilteredEvent | null;
  keep_alive?: object | null;
}

export interface ConsumerEventAck { persistence_id: string; seq_nr: number }

export interface ConsumeEventOut {
  message?: "start" | "ack";
  start?: { filter: FilterCriteria[]; replica_info: ReplicaInfo | null } | null;
  ack?: ConsumerEventAck | null;
}

export interface EventTimestampRequest { stream_id: string; persistence_id: string; seq_nr: number }
export interface EventTimestampResponse { timestamp: Timestamp | null }
export interface LoadEventRequest { stream_id: string; persistence_id: string; seq_nr: number; replica_info: ReplicaInfo | null }
export interface LoadEventResponse { message?: "event" | "filtered_event"; event?: Event | null; filtered_event?: FilteredEvent | null }

export interface RegisterRequest { sensor_entity_id: string; secret: string }
export interface GetTemperatureRequest { sensor_entity_id: string }
export interface CurrentTemperature { sensor_entity_id: string; temperature: number }
