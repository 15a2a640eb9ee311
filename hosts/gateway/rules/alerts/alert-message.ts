/*
 * An alert as every sink sends it: one JSON object, the same for the
 * webhook's body, the MQTT payload and the SSE event's data.
 */
import type { AlertRecord } from "../../store/observation-store.js";

export interface AlertMessage {
  /** The same for every delivery of this change, on every sink: receivers drop repeats by it. */
  idempotencyKey: string;
  /** The outbox's id (the SSE event id). */
  id: number;
  rule: string;
  key: string;
  state: "raised" | "cleared";
  /** The rule's event time of the change, ms since the epoch, and as ISO 8601. */
  at: number;
  time: string;
  message: string | null;
  severity: string | null;
  sensorId: string | null;
  data: Record<string, unknown> | null;
}

export function alertMessage(record: AlertRecord): AlertMessage {
  const details = JSON.parse(record.details) as { message?: string; severity?: string; sensorId?: string; data?: Record<string, unknown> };
  return {
    idempotencyKey: record.idempotencyKey,
    id: record.id,
    rule: record.rule,
    key: record.key,
    state: record.active ? "raised" : "cleared",
    at: record.at,
    time: new Date(record.at).toISOString(),
    message: details.message ?? null,
    severity: details.severity ?? null,
    sensorId: details.sensorId ?? null,
    data: details.data ?? null,
  };
}

/** A sink: one receiver of alerts. */
export interface AlertSink {
  /** Its name in stats and in the outbox's cursors ("webhook", "mqtt"). */
  readonly name: string;
  /** For logs: where it sends. */
  readonly target: string;
  /** Resolves once the receiver took the alert; rejects to be retried, or with SinkRefusal for a receiver that will never take it. */
  deliver(alert: AlertMessage): Promise<void>;
  close(): Promise<void>;
}

/** The receiver refused this alert for good (an HTTP 4xx other than 408 and 429): retrying would block every later alert. */
export class SinkRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SinkRefusal";
  }
}
