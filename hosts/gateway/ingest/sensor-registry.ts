/*
 * Which sensors the gateway accepts, and how a device proves it is one:
 * MQTT username = sensor id, password = the secret the cloud registered.
 *
 * Secrets are compared as SHA-256 digests with timingSafeEqual: digests
 * have one length, so neither the comparison's time nor an early length
 * check tells an attacker how much of a guess was right. Only the digest is
 * kept in memory; the secret itself is never logged, stored in the clear by
 * this module, or served.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export type RegistryVerdict = "ok" | "unregistered" | "bad-secret";

export interface RegisteredSensor {
  sensorId: string;
  /** Gateway clock (ms since the epoch) when the registration reached the gateway. */
  registeredAt: number;
}

export interface SensorRegistry {
  /** Does this secret belong to this registered sensor? */
  verify(sensorId: string, secret: Uint8Array | string | undefined): RegistryVerdict;
  isRegistered(sensorId: string): boolean;
  /** Registered sensors, without secrets. */
  list(): RegisteredSensor[];
  /**
   * Calls `listener` each time a sensor's secret is replaced by another or
   * its registration is removed: sessions authenticated before that must
   * end. Called after the change is in effect (verify already answers
   * with the new state). Returns a function that stops the calls.
   */
  onRevoked?(listener: (sensorId: string) => void): () => void;
}

/** The listeners of SensorRegistry.onRevoked, for an implementation to hold. */
export class RevocationListeners {
  readonly #listeners = new Set<(sensorId: string) => void>();

  add(listener: (sensorId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells every listener; one that throws does not keep the others from hearing. */
  revoked(sensorId: string): void {
    let failure: unknown;
    for (const listener of [...this.#listeners]) {
      try {
        listener(sensorId);
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure !== undefined) throw failure;
  }
}

export function secretDigest(secret: Uint8Array | string): Buffer {
  return createHash("sha256").update(secret).digest();
}

/** True when `secret` hashes to `digest`, in time independent of both. */
export function secretMatches(digest: Uint8Array, secret: Uint8Array | string | undefined): boolean {
  // Hash even a missing secret, so "no password" takes as long as a wrong one.
  const candidate = secretDigest(secret ?? "");
  return digest.length === candidate.length && timingSafeEqual(digest, candidate) && secret !== undefined;
}

/**
 * A set of sensors held in memory: for tests, and for an operator who
 * provisions devices without a cloud feed.
 */
export class StaticRegistry implements SensorRegistry {
  readonly #digests = new Map<string, { digest: Buffer; registeredAt: number }>();
  readonly #revocations = new RevocationListeners();
  readonly #now: () => number;

  constructor(sensors: readonly { sensorId: string; secret: string }[] = [], now: () => number = Date.now) {
    this.#now = now;
    for (const { sensorId, secret } of sensors) this.#digests.set(sensorId, { digest: secretDigest(secret), registeredAt: now() });
  }

  /** Registers a sensor, or gives it a new secret (ending its sessions if the secret changed). */
  set(sensorId: string, secret: string): void {
    const before = this.#digests.get(sensorId);
    const digest = secretDigest(secret);
    this.#digests.set(sensorId, { digest, registeredAt: this.#now() });
    if (before !== undefined && !before.digest.equals(digest)) this.#revocations.revoked(sensorId);
  }

  /** Removes a sensor's registration, ending its sessions. */
  remove(sensorId: string): void {
    if (this.#digests.delete(sensorId)) this.#revocations.revoked(sensorId);
  }

  onRevoked(listener: (sensorId: string) => void): () => void {
    return this.#revocations.add(listener);
  }

  verify(sensorId: string, secret: Uint8Array | string | undefined): RegistryVerdict {
    const entry = this.#digests.get(sensorId);
    if (entry === undefined) return "unregistered";
    return secretMatches(entry.digest, secret) ? "ok" : "bad-secret";
  }

  isRegistered(sensorId: string): boolean {
    return this.#digests.has(sensorId);
  }

  list(): RegisteredSensor[] {
    return [...this.#digests].map(([sensorId, { registeredAt }]) => ({ sensorId, registeredAt }));
  }
}
