/*
 * Whether the gateway is healthy, for GET /healthz: a pure verdict over a
 * few facts, and the clock that knows since when the relay has been failing.
 */
import type { CloudAck, CloudConnector } from "../relay/connector.js";

/**
 * The relay may fail this long before the gateway reports itself unhealthy.
 * Its retries back off to 30 s (../relay/relay.ts), so five minutes is several
 * attempts: a cloud that is really down, not a blip. The outbox keeps every
 * observation meanwhile; this only tells the operator.
 */
export const RELAY_FAILING_THRESHOLD_MS = 5 * 60_000;

export interface HealthFacts {
  storeOpen: boolean;
  mqttListening: boolean;
  /** Gateway clock of the first failure since the last success; null when not failing. */
  relayFailingSince: number | null;
  now: number;
}

export type Health = { status: "ok" } | { status: "failing"; reasons: string[] };

export function assessHealth(facts: HealthFacts, relayThresholdMs = RELAY_FAILING_THRESHOLD_MS): Health {
  const reasons: string[] = [];
  if (!facts.storeOpen) reasons.push("store closed: observations cannot be stored or acknowledged");
  if (!facts.mqttListening) reasons.push("mqtt listener down: devices cannot connect");
  if (facts.relayFailingSince !== null) {
    const failingMs = facts.now - facts.relayFailingSince;
    if (failingMs >= relayThresholdMs) reasons.push(`relay failing for ${failingMs} ms (threshold ${relayThresholdMs} ms)`);
  }
  return reasons.length === 0 ? { status: "ok" } : { status: "failing", reasons };
}

/**
 * Since when the relay has been failing. The relay's own stats count
 * consecutive failures but not since when, so this watches the outcomes.
 */
export class RelayFailureClock {
  #since: number | null = null;

  get failingSince(): number | null {
    return this.#since;
  }

  succeeded(): void {
    this.#since = null;
  }

  failed(now: number): void {
    this.#since ??= now;
  }
}

/**
 * The connector, with each send's outcome told to `clock`. A partial ack is
 * a failure, as the relay counts it.
 */
export function watchConnector(connector: CloudConnector, clock: RelayFailureClock, now: () => number): CloudConnector {
  return {
    name: connector.name,
    async send(batch): Promise<CloudAck> {
      try {
        const ack = await connector.send(batch);
        // Distinct keys, so an ack naming one row twice cannot stand in for one it left out.
        const acked = new Set(ack.acked.map(({ sensorId, seq }) => `${sensorId}\u0000${seq}`));
        if (acked.size >= batch.length) clock.succeeded();
        else clock.failed(now());
        return ack;
      } catch (e) {
        clock.failed(now());
        throw e;
      }
    },
    close: () => connector.close(),
  };
}
