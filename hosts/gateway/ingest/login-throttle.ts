/*
 * Failed device logins, slowed and then refused, per (source address,
 * sensor id). Pure: the listener asks `check` before it verifies a
 * password, waits as told (holding the connection, which counts against
 * the unauthenticated caps), then reports the verdict.
 *
 * After each failure the key's next attempt waits twice as long as the
 * last (`initialDelayMs`, doubling, at most `maxDelayMs`), and while one
 * attempt waits its turn, others for the same key are refused ("busy"), so
 * opening many connections at once does not guess faster. After
 * `maxFailures` failures, attempts are refused without a look at the
 * password ("locked") until `forgetAfterMs` after the last failure: refused
 * attempts do not prolong it, so a device that kept retrying an old secret
 * gets in soon after it is given the new one. A success clears the key.
 *
 * The key includes the source address on purpose: an attacker guessing a
 * sensor's secret from one host never delays or locks out the sensor
 * logging in from its own address. Memory is bounded: at most `maxKeys`
 * keys (the least recently failed go first), and at most
 * MAX_KEYS_PER_ADDRESS sensor ids per address; an address that tries more
 * ids than that shares one key for all the rest, so rotating ids does not
 * escape the delay.
 */

export interface LoginThrottleLimits {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Failures after which attempts are refused outright. */
  maxFailures: number;
  /** A key's failures are forgotten this long after the last one. */
  forgetAfterMs: number;
  maxKeys: number;
}

/** 250 ms: a device with a typo in its secret waits a quarter second; its retries back off far more than that anyway. */
export const DEFAULT_LOGIN_DELAY_MS = 250;
/** 8 s: under the CONNECT deadline's order of magnitude, so a slowed attempt is still answered. */
export const DEFAULT_LOGIN_MAX_DELAY_MS = 8_000;
/** 10 failures (about 40 s of delays) before attempts from that address for that sensor are refused. */
export const DEFAULT_LOGIN_MAX_FAILURES = 10;
/** 15 min after the last failure, the refusal lifts. */
export const DEFAULT_LOGIN_FORGET_AFTER_MS = 15 * 60_000;
/** 10,000 keys of about 100 bytes: 1 MB at most. */
export const DEFAULT_LOGIN_MAX_KEYS = 10_000;
/** Sensor ids tracked per source address before the address's further ids share one key. */
export const MAX_KEYS_PER_ADDRESS = 64;

export const DEFAULT_LOGIN_THROTTLE: Readonly<LoginThrottleLimits> = Object.freeze({
  initialDelayMs: DEFAULT_LOGIN_DELAY_MS,
  maxDelayMs: DEFAULT_LOGIN_MAX_DELAY_MS,
  maxFailures: DEFAULT_LOGIN_MAX_FAILURES,
  forgetAfterMs: DEFAULT_LOGIN_FORGET_AFTER_MS,
  maxKeys: DEFAULT_LOGIN_MAX_KEYS,
});

/**
 * "go": verify now; "wait": verify once `ms` have passed; "refuse": do not
 * verify, because of too many failures ("locked") or another attempt
 * waiting its turn ("busy"). After "go" or "wait", report the attempt's end
 * with `failed`, `succeeded` or `abandoned`.
 */
export type LoginCheck = { kind: "go" } | { kind: "wait"; ms: number } | { kind: "refuse"; why: "locked" | "busy" };

interface KeyState {
  failures: number;
  /** When the next attempt may be verified. */
  nextAt: number;
  lastFailureAt: number;
  /** An attempt was let through and has not ended yet. */
  pending: boolean;
  address: string;
}

/** Stands for "any further sensor id" of an address over its MAX_KEYS_PER_ADDRESS. */
const ANY_SENSOR = "\u0000*";

export class LoginThrottle {
  readonly limits: LoginThrottleLimits;
  /** In order of last failure (Map order: re-set on each), so the first is the one to evict. */
  readonly #keys = new Map<string, KeyState>();
  readonly #keysPerAddress = new Map<string, number>();

  constructor(limits: Partial<LoginThrottleLimits> = {}) {
    this.limits = { ...DEFAULT_LOGIN_THROTTLE, ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) };
    const { initialDelayMs, maxDelayMs, maxFailures, forgetAfterMs, maxKeys } = this.limits;
    if (!(Number.isInteger(initialDelayMs) && initialDelayMs >= 0)) throw new RangeError(`mqtt login delay must be a non-negative integer (ms), got ${initialDelayMs}`);
    if (!(Number.isInteger(maxDelayMs) && maxDelayMs >= initialDelayMs)) throw new RangeError(`mqtt login max delay must be an integer of at least the delay (${initialDelayMs}), got ${maxDelayMs}`);
    if (!(Number.isInteger(maxFailures) && maxFailures >= 1)) throw new RangeError(`mqtt login max failures must be a positive integer, got ${maxFailures}`);
    if (!(Number.isInteger(forgetAfterMs) && forgetAfterMs >= 1)) throw new RangeError(`mqtt login forget-after must be a positive integer (ms), got ${forgetAfterMs}`);
    if (!(Number.isInteger(maxKeys) && maxKeys >= 1)) throw new RangeError(`mqtt login max keys must be a positive integer, got ${maxKeys}`);
  }

  /** Before verifying a password for `sensorId` from `address`: whether to, and when. */
  check(address: string, sensorId: string, now: number): LoginCheck {
    const found = this.#find(address, sensorId);
    if (found === undefined) return { kind: "go" };
    const { key, state } = found;
    // A clock stepped back counts as the time passed, rather than a refusal that never ends.
    if (!state.pending && (now - state.lastFailureAt >= this.limits.forgetAfterMs || now < state.lastFailureAt)) {
      this.#evict(key);
      return { kind: "go" };
    }
    if (state.failures >= this.limits.maxFailures) return { kind: "refuse", why: "locked" };
    if (state.pending) return { kind: "refuse", why: "busy" };
    state.pending = true;
    return state.nextAt <= now ? { kind: "go" } : { kind: "wait", ms: state.nextAt - now };
  }

  /** The password was wrong (or the sensor unknown). */
  failed(address: string, sensorId: string, now: number): void {
    let found = this.#find(address, sensorId);
    if (found === undefined) {
      const key = (this.#keysPerAddress.get(address) ?? 0) >= MAX_KEYS_PER_ADDRESS ? address + ANY_SENSOR : this.#key(address, sensorId);
      found = { key, state: { failures: 0, nextAt: now, lastFailureAt: now, pending: false, address } };
      this.#keysPerAddress.set(address, (this.#keysPerAddress.get(address) ?? 0) + 1);
    } else this.#keys.delete(found.key);
    const { key, state } = found;
    state.failures++;
    state.lastFailureAt = now;
    state.pending = false;
    state.nextAt = now + this.#delay(state.failures);
    this.#keys.set(key, state);
    while (this.#keys.size > this.limits.maxKeys) this.#evict(this.#keys.keys().next().value as string);
  }

  /** The right password: the sensor's key starts afresh (a shared key only lets its next attempt through). */
  succeeded(address: string, sensorId: string): void {
    const found = this.#find(address, sensorId);
    if (found === undefined) return;
    if (found.key === this.#key(address, sensorId)) this.#evict(found.key);
    else found.state.pending = false;
  }

  /** An attempt let through by `check` ended without a verdict (its connection closed while it waited). */
  abandoned(address: string, sensorId: string): void {
    const found = this.#find(address, sensorId);
    if (found !== undefined) found.state.pending = false;
  }

  /** Keys held (at most limits.maxKeys). */
  get size(): number {
    return this.#keys.size;
  }

  /** The key that holds this sensor's failures from this address: its own, else the address's shared one once it has too many. */
  #find(address: string, sensorId: string): { key: string; state: KeyState } | undefined {
    const own = this.#key(address, sensorId);
    const state = this.#keys.get(own);
    if (state !== undefined) return { key: own, state };
    if ((this.#keysPerAddress.get(address) ?? 0) < MAX_KEYS_PER_ADDRESS) return undefined;
    const shared = address + ANY_SENSOR;
    const sharedState = this.#keys.get(shared);
    return sharedState === undefined ? undefined : { key: shared, state: sharedState };
  }

  #delay(failures: number): number {
    if (failures <= 0) return 0;
    return Math.min(this.limits.maxDelayMs, this.limits.initialDelayMs * 2 ** Math.min(failures - 1, 30));
  }

  #key(address: string, sensorId: string): string {
    return `${address}\u0000${sensorId}`;
  }

  #evict(key: string): void {
    const state = this.#keys.get(key);
    if (state === undefined) return;
    this.#keys.delete(key);
    const left = (this.#keysPerAddress.get(state.address) ?? 1) - 1;
    if (left <= 0) this.#keysPerAddress.delete(state.address);
    else this.#keysPerAddress.set(state.address, left);
  }
}
