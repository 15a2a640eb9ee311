/*
 * What the gateway does with one MQTT PUBLISH: store it, recognise it as a
 * retry, or refuse it (quarantined, counted, logged). No sockets here; the
 * broker calls `handle` and turns the outcome into a PUBACK or a disconnect.
 *
 * The decision (`classify`) is pure; `Ingest` adds the effects.
 */
import { decodeObservation, ObservationError, MAX_RECORD_BYTES, type Observation } from "../../modules/observation/record.js";
import type { Logger } from "../log/logger.js";
import type { ObservationStore } from "./observation-store.js";

/** Devices publish observations on `xsedge/v1/<sensorId>/obs` (the id pattern is the record's). */
const OBSERVATION_TOPIC = /^xsedge\/v1\/([A-Za-z0-9._:-]{1,64})\/obs$/;

export function observationTopic(sensorId: string): string {
  return `xsedge/v1/${sensorId}/obs`;
}

export const REFUSAL_REASONS = ["bad-topic", "too-large", "malformed", "sensor-mismatch", "seq-conflict"] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface Refusal {
  kind: "refused";
  reason: RefusalReason;
  /** The record field at fault ("topic" for a bad topic). */
  field: string;
  detail: string;
}

export type Classification = { kind: "valid"; observation: Observation } | Refusal;

export type IngestOutcome =
  | { kind: "stored"; observation: Observation }
  | { kind: "duplicate"; observation: Observation }
  | Refusal
  /** The store could not commit: the publish must not be acknowledged, so the device keeps it and retries. */
  | { kind: "failed"; error: Error };

export interface PublishInput {
  topic: string;
  payload: Uint8Array;
  /** Null for a will published after its client has gone. */
  clientId: string | null;
}

export interface IngestCounters {
  stored: number;
  duplicate: number;
  refused: number;
  failed: number;
  refusedByReason: Record<RefusalReason, number>;
}

function refuse(reason: RefusalReason, field: string, detail: string): Refusal {
  return { kind: "refused", reason, field, detail };
}

/** Decides whether a publish carries a valid observation for the sensor its topic names. */
export function classify(topic: string, payload: Uint8Array): Classification {
  const match = OBSERVATION_TOPIC.exec(topic);
  if (!match) return refuse("bad-topic", "topic", `topic must be xsedge/v1/<sensorId>/obs`);
  // Checked before decoding so the reason says what is wrong, not "not CBOR".
  if (payload.byteLength > MAX_RECORD_BYTES) {
    return refuse("too-large", "record", `${payload.byteLength} bytes, limit is ${MAX_RECORD_BYTES}`);
  }
  let observation: Observation;
  try {
    observation = decodeObservation(payload);
  } catch (e) {
    if (e instanceof ObservationError) return refuse("malformed", e.field, e.message);
    return refuse("malformed", "record", `undecodable (${(e as Error).message})`);
  }
  if (observation.sensorId !== match[1]) {
    return refuse("sensor-mismatch", "sensorId", `record is from "${observation.sensorId}" but the topic names "${match[1]}"`);
  }
  return { kind: "valid", observation };
}

export interface IngestOptions {
  store: ObservationStore;
  logger: Logger;
  now?: () => number;
}

export class Ingest {
  readonly #store: ObservationStore;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #counters: IngestCounters = {
    stored: 0,
    duplicate: 0,
    refused: 0,
    failed: 0,
    refusedByReason: Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>,
  };

  constructor(options: IngestOptions) {
    this.#store = options.store;
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
  }

  handle(input: PublishInput): IngestOutcome {
    const receivedAt = this.#now();
    const decision = classify(input.topic, input.payload);
    try {
      if (decision.kind === "refused") return this.#refuse(input, decision, receivedAt);
      const appended = this.#store.append(decision.observation, receivedAt);
      if (appended === "conflict") {
        const { sensorId, seq } = decision.observation;
        const refusal = refuse("seq-conflict", "seq", `${sensorId} seq ${seq} is already stored with different content`);
        return this.#refuse(input, refusal, receivedAt);
      }
      this.#counters[appended]++;
      const { sensorId, seq } = decision.observation;
      this.#log.debug(appended === "stored" ? "observation stored" : "duplicate observation (device retry)", {
        clientId: input.clientId,
        sensorId,
        seq,
      });
      return { kind: appended, observation: decision.observation };
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      this.#counters.failed++;
      this.#log.error("could not commit publish; not acknowledging it", { clientId: input.clientId, topic: input.topic, error });
      return { kind: "failed", error };
    }
  }

  /** A snapshot; callers may keep it. */
  counters(): IngestCounters {
    return { ...this.#counters, refusedByReason: { ...this.#counters.refusedByReason } };
  }

  #refuse(input: PublishInput, refusal: Refusal, receivedAt: number): Refusal {
    const quarantineId = this.#store.quarantine({
      receivedAt,
      clientId: input.clientId,
      topic: input.topic,
      reason: refusal.reason,
      field: refusal.field,
      detail: refusal.detail,
      payload: input.payload,
    });
    this.#counters.refused++;
    this.#counters.refusedByReason[refusal.reason]++;
    this.#log.warn(`refused publish from ${input.clientId ?? "(will)"}: ${refusal.reason} (${refusal.field}): ${refusal.detail}`, {
      clientId: input.clientId,
      topic: input.topic.slice(0, 256),
      reason: refusal.reason,
      field: refusal.field,
      bytes: input.payload.byteLength,
      quarantineId,
    });
    return refusal;
  }
}
