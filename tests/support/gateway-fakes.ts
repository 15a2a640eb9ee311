/*
 * In-memory cloud connectors for gateway tests that are not about the cloud.
 */
import type { CloudAck, CloudConnector, RelayedObservation } from "../../hosts/gateway/relay/connector.js";

/** Acknowledges everything and keeps what it was sent. */
export function memoryConnector(): CloudConnector & { batches: RelayedObservation[][] } {
  const batches: RelayedObservation[][] = [];
  return {
    name: "memory",
    batches,
    async send(batch): Promise<CloudAck> {
      batches.push([...batch]);
      return { acked: batch.map(({ sensorId, seq }) => ({ sensorId, seq })) };
    },
    async close() {},
  };
}

/** A cloud that is down: every send fails, so stored rows stay unrelayed. */
export function downConnector(): CloudConnector {
  return {
    name: "down",
    async send(): Promise<CloudAck> {
      throw new Error("cloud unreachable (test)");
    },
    async close() {},
  };
}
