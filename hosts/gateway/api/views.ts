/*
 * The JSON the local API serves, built from store rows and the registry.
 * Only sensor ids ever reach here from the registry: it never hands out
 * secrets, so none can be served.
 */
import { observationToJson, readingToJson, type ObservationJson, type ReadingJson } from "../../../modules/observation/observation-json.js";
import type { SensorSummary } from "../store/queries.js";
import type { StoredObservation } from "../store/observation-store.js";
import type { RegisteredSensor } from "../ingest/sensor-registry.js";

/** An observation as stored at the gateway; `id` is the store's row id (and the SSE event id). */
export interface ApiObservation extends ObservationJson {
  id: number;
  receivedAt: number;
  /** When the cloud acknowledged it; null while it waits in the outbox. */
  relayedAt: number | null;
}

export function apiObservation(row: StoredObservation): ApiObservation {
  return { id: row.id, ...observationToJson(row.observation), receivedAt: row.receivedAt, relayedAt: row.relayedAt };
}

export interface SensorEntry {
  sensorId: string;
  /** In the gateway's registry; false for one whose rows predate its removal (or with no registry). */
  registered: boolean;
  registeredAt: number | null;
  observations: number;
  lastSeq: number | null;
  lastReceivedAt: number | null;
  lastTime: number | null;
  lastReadings: ReadingJson[];
}

/** Every registered sensor and every sensor with stored rows, by id. */
export function sensorTable(registered: readonly RegisteredSensor[], summaries: readonly SensorSummary[]): SensorEntry[] {
  const entries = new Map<string, SensorEntry>();
  for (const { sensorId, registeredAt } of registered) {
    entries.set(sensorId, {
      sensorId, registered: true, registeredAt, observations: 0, lastSeq: null, lastReceivedAt: null, lastTime: null, lastReadings: [],
    });
  }
  for (const s of summaries) {
    const known = entries.get(s.sensorId);
    entries.set(s.sensorId, {
      sensorId: s.sensorId,
      registered: known !== undefined,
      registeredAt: known?.registeredAt ?? null,
      observations: s.observations,
      lastSeq: s.lastSeq,
      lastReceivedAt: s.lastReceivedAt,
      lastTime: s.lastTime,
      lastReadings: s.lastReadings.map(readingToJson),
    });
  }
  return [...entries.values()].sort((a, b) => (a.sensorId < b.sensorId ? -1 : a.sensorId > b.sensorId ? 1 : 0));
}
