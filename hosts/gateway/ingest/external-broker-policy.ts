/*
 * The decisions of ingest from an external MQTT broker (mosquitto), free of
 * I/O so they are tested directly: the broker URL and what may be shown of
 * it, the reconnect backoff, which sensor a topic names, and whether a
 * message is acknowledged to the broker. external-broker.ts does the I/O.
 */
import type { IngestOutcome } from "./ingest.js";

/**
 * Fixed, so that the broker finds the gateway's persistent session (and the
 * QoS 1 messages it queued meanwhile) again after a restart.
 */
export const DEFAULT_CLIENT_ID = "xsedge-gateway";
/** Every sensor's uplink (modules/SPEC.md). */
export const DEFAULT_TOPIC = "xsedge/v1/+/up";
/** A broker restart is usually over within a second; no point hammering it sooner. */
export const RECONNECT_INITIAL_MS = 500;
/**
 * The longest wait between attempts: an outage of the broker then costs at
 * most 30 s of extra latency once it is back, while a long outage costs one
 * refused connection per 30 s.
 */
export const RECONNECT_MAX_MS = 30_000;

const BROKER_PROTOCOLS = ["mqtt:", "mqtts:"];

export interface BrokerUrl {
  /** The URL without credentials, for MQTT.js. */
  url: string;
  /** The URL as it may be logged and shown: no password, ever. */
  shown: string;
  username?: string;
  password?: string;
}

/** Splits credentials off an `mqtt://` or `mqtts://` URL; throws an error naming what is wrong. */
export function parseBrokerUrl(text: string): BrokerUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The text itself may hold a password, so it is not repeated.
    throw new Error("externalBroker.url: not a URL (expected mqtt://host:port or mqtts://host:port)");
  }
  if (!BROKER_PROTOCOLS.includes(url.protocol)) {
    throw new Error(`externalBroker.url: protocol must be mqtt: or mqtts:, got ${url.protocol}`);
  }
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.password = "";
  const shown = url.toString();
  url.username = "";
  return { url: url.toString(), shown, username, password };
}

/** Milliseconds before reconnect attempt `attempt` (0 for the first after a loss): doubling, capped. */
export function reconnectDelayMs(attempt: number, initialMs = RECONNECT_INITIAL_MS, maxMs = RECONNECT_MAX_MS): number {
  // 2 ** 30 already exceeds any sane cap; the exponent is bounded so the product stays finite.
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
}

/** The sensor id an uplink topic names (`xsedge/v1/<sensorId>/up`), or undefined for any other shape. */
export function topicSensorId(topic: string): string | undefined {
  const levels = topic.split("/");
  if (levels.length !== 4 || levels[0] !== "xsedge" || levels[1] !== "v1" || levels[3] !== "up" || levels[2] === "") return undefined;
  return levels[2];
}

/**
 * The client id handed to Ingest (and kept with quarantined payloads): the
 * devices' own client ids stay with the broker, so the topic's sensor id
 * stands in, marked as having come through the external broker ("ext" alone
 * when the topic names none; null would read as a will in Ingest's log).
 */
export function ingestClientId(sensorId: string | undefined): string {
  return sensorId === undefined ? "ext" : `ext:${sensorId}`;
}

/** What became of a message from the external broker: Ingest's outcome, or refused here for an unregistered sensor. */
export type ExternalOutcome = IngestOutcome | { kind: "unregistered"; sensorId: string };

/**
 * Whether the broker gets its PUBACK. Everything committed is acknowledged,
 * refusals included (they are quarantined: see broker.ts on why a refusal
 * is acknowledged). Only a failed commit is withheld: the broker keeps the
 * message in the gateway's session and resends it after a reconnect.
 */
export function ackDecision(outcome: ExternalOutcome): "ack" | "withhold" {
  return outcome.kind === "failed" ? "withhold" : "ack";
}
