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

/**
 * The registration stream may be down this long before health says so: its
 * reconnects back off to 10 s, so this is dozens of attempts. Devices already
 * registered keep logging in meanwhile; new ones and new secrets wait.
 */
export const REGISTRATION_DOWN_THRESHOLD_MS = 5 * 60_000;

/** The Akka registration stream, as /healthz shows it (none for the SSE feed or a given registry). */
export interface RegistrationStreamHealth {
  state: string;
  /** Since the current stream was requested; null between streams. */
  streamAgeMs: number | null;
  /** Since it last brought a message. */
  idleMs: number | null;
  /** Since the link was last connected; null while connected. */
  downForMs: number | null;
  lastError: string | null;
}

export interface HealthFacts {
  storeOpen: boolean;
  mqttListening: boolean;
  /** Gateway clock of the first failure since the last success; null when not failing. */
  relayFailingSince: number | null;
  /** The store's latest commit failed (and none succeeded since): publishes are not acknowledged. */
  storeCommitFailure?: { since: number; error: string } | null;
  registrationStream?: RegistrationStreamHealth | null;
  now: number;
}

/**
 * "failing": the gateway cannot do its job (store closed, listener down, the
 * cloud unreachable for long); "degraded": it runs and keeps what it has
 * acknowledged, but something needs an operator (the disk cannot take
 * commits, registrations do not arrive). Both answer 503.
 */
export type Health =
  | { status: "ok"; registrationStream?: RegistrationStreamHealth }
  | { status: "degraded" | "failing"; reasons: string[]; registrationStream?: RegistrationStreamHealth };

export function assessHealth(facts: HealthFacts, relayThresholdMs = RELAY_FAILING_THRESHOLD_MS, registrationThresholdMs = REGISTRATION_DOWN_THRESHOLD_MS): Health {
  const failing: string[] = [];
  if (!facts.storeOpen) failing.push("store closed: observations cannot be stored or acknowledged");
  if (!facts.mqttListening) failing.push("mqtt listener down: devices cannot connect");
  if (facts.relayFailingSince !== null) {
    const failingMs = facts.now - facts.relayFailingSince;
    if (failingMs >= relayThresholdMs) failing.push(`relay failing for ${failingMs} ms (threshold ${relayThresholdMs} ms)`);
  }
  const degraded: string[] = [];
  const commit = facts.storeCommitFailure;
  if (commit && facts.storeOpen) {
    degraded.push(`store cannot commit for ${Math.max(0, facts.now - commit.since)} ms (${commit.error}): publishes are not acknowledged, devices keep them`);
  }
  const stream = facts.registrationStream ?? undefined;
  if (stream && stream.downForMs !== null && stream.downForMs >= registrationThresholdMs) {
    degraded.push(`registration stream down for ${stream.downForMs} ms (threshold ${registrationThresholdMs} ms)${stream.lastError ? `: ${stream.lastError}` : ""}; new registrations and secrets do not arrive`);
  }
  const extra = stream ? { registrationStream: stream } : {};
  if (failing.length > 0) return { status: "failing", reasons: [...failing, ...degraded], ...extra };
  if (degraded.length > 0) return { status: "degraded", reasons: degraded, ...extra };
  return { status: "ok", ...extra };
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
    ...(connector.onLinkUp ? { onLinkUp: (listener: () => void) => connector.onLinkUp?.(listener) } : {}),
    ...(connector.maxConcurrentSends !== undefined ? { maxConcurrentSends: connector.maxConcurrentSends } : {}),
    close: () => connector.close(),
  };
}
