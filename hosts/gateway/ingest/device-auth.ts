/*
 * Device authentication on MQTT CONNECT: username = sensor id, password =
 * the secret the cloud registered for it (see sensor-registry.ts). The
 * verdict and its CONNACK code are decided by `decideConnect` (pure, given
 * the registry); `DeviceAuth` adds the counters and the log lines the broker
 * needs. The secret never reaches a log line or a counter.
 *
 * The client id must be the username (the sensor id), checked before the
 * secret (`checkClientId`): MQTT lets a new session take over its client
 * id's old one [MQTT-3.1.4-2], so with ids of their own choosing one device
 * could cut off another forever. A session lasts while its registration
 * does: when the sensor's secret is replaced or its registration removed,
 * the listener ends the session (SensorRegistry.onRevoked).
 */
import type { Logger } from "../../log/logger.js";
import { RefusalLog } from "./refusal-log.js";
import type { SensorRegistry } from "./sensor-registry.js";

/** MQTT 3.1.1 CONNACK return codes (section 3.2.2.3). */
export const CONNACK_IDENTIFIER_REJECTED = 2;
export const CONNACK_BAD_USERNAME_OR_PASSWORD = 4;
export const CONNACK_NOT_AUTHORIZED = 5;

/** Usernames and client ids are the client's to choose; log lines quote at most this much of them. */
const MAX_QUOTED_CHARS = 64;

export type ConnectVerdict =
  | { ok: true; sensorId: string }
  | { ok: false; reason: "unregistered" | "bad-secret"; returnCode: typeof CONNACK_BAD_USERNAME_OR_PASSWORD | typeof CONNACK_NOT_AUTHORIZED; detail: string };

export interface AuthCounters {
  /** CONNECTs accepted. */
  accepted: number;
  /** CONNECTs refused: no username, or not a registered sensor id. */
  unregistered: number;
  /** CONNECTs refused: a registered sensor with a missing or wrong secret. */
  badSecret: number;
  /** Publishes refused because they were for a sensor other than the one authenticated. */
  wrongSensor: number;
  /** TLS connections that failed before MQTT (a plain-text client on the TLS port, a bad handshake). */
  tlsFailed: number;
}

function quoted(text: string): string {
  return JSON.stringify(text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}…` : text);
}

/**
 * Why a CONNECT's client id is refused (CONNACK 2), or null. Without a
 * username the login itself is refused (CONNACK 5), so only a given one is
 * compared.
 */
export function checkClientId(clientId: string, username: string | undefined): string | null {
  if (username === undefined || username === "") return null;
  if (clientId === username) return null;
  return `client id ${quoted(clientId)} is not the username ${quoted(username)}: a device's client id must be its sensor id`;
}

/**
 * An unregistered sensor is "not authorized" (5); a registered one with the
 * wrong secret gets "bad username or password" (4), which a device reports
 * as a provisioning fault rather than a missing registration.
 */
export function decideConnect(registry: SensorRegistry, username: string | undefined, password: Uint8Array | undefined): ConnectVerdict {
  if (username === undefined || username === "") {
    return { ok: false, reason: "unregistered", returnCode: CONNACK_NOT_AUTHORIZED, detail: "no username (the sensor id)" };
  }
  switch (registry.verify(username, password)) {
    case "ok":
      return { ok: true, sensorId: username };
    case "unregistered":
      return { ok: false, reason: "unregistered", returnCode: CONNACK_NOT_AUTHORIZED, detail: `sensor ${quoted(username)} is not registered` };
    case "bad-secret":
      return {
        ok: false,
        reason: "bad-secret",
        returnCode: CONNACK_BAD_USERNAME_OR_PASSWORD,
        detail: `${password === undefined ? "no secret" : "wrong secret"} for sensor ${quoted(username)}`,
      };
  }
}

export class DeviceAuth {
  readonly #registry: SensorRegistry;
  readonly #log: Logger;
  // A device with a wrong secret may reconnect in a tight loop: one line per client and reason per interval.
  readonly #refusals: RefusalLog;
  readonly #counters: AuthCounters = { accepted: 0, unregistered: 0, badSecret: 0, wrongSensor: 0, tlsFailed: 0 };

  /** `now`: the clock the refusal lines are throttled by. */
  constructor(registry: SensorRegistry, logger: Logger, now: () => number = Date.now) {
    this.#registry = registry;
    this.#log = logger;
    this.#refusals = new RefusalLog(logger, now);
  }

  /** Decides one CONNECT, counting and logging a refusal. */
  connect(clientId: string, username: string | undefined, password: Uint8Array | undefined): ConnectVerdict {
    const verdict = decideConnect(this.#registry, username, password);
    if (verdict.ok) {
      this.#counters.accepted++;
      this.#log.debug("device authenticated", { clientId, sensorId: verdict.sensorId });
      return verdict;
    }
    this.#counters[verdict.reason === "unregistered" ? "unregistered" : "badSecret"]++;
    this.#refusals.warn(clientId, verdict.reason, `refused CONNECT from client ${quoted(clientId)}: ${verdict.detail}`, {
      clientId: clientId.slice(0, MAX_QUOTED_CHARS),
      reason: verdict.reason,
      returnCode: verdict.returnCode,
    });
    return verdict;
  }

  /** Ingest refused a publish as wrong-sensor (it logged and quarantined it). */
  countWrongSensor(): void {
    this.#counters.wrongSensor++;
  }

  countTlsFailure(): void {
    this.#counters.tlsFailed++;
  }

  /** A snapshot; callers may keep it. */
  counters(): AuthCounters {
    return { ...this.#counters };
  }
}
