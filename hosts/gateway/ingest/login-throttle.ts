/*
 * Failed device logins, slowed and then refused, per (source address,
 * sensor id). Pure: the listener asks `check` before it verifies a
 * password, waits as told (holding the connection, which counts against
 * the unauthenticated caps), then reports the verdict.
 *
 * After each failure the key's next attempt waits twice as long as the
 * last (`initialDelayMs`, doubling, at most `maxDelayMs`), and attempts
 * made together queue behind each other, so opening many connections at
 * once does not guess faster. After `maxFailures` failures, attempts are
 * refused without a look at the password until the key has been quiet
 * (no attempt at all) for `forgetAfterMs`. A success clears the key.
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
  /** A key with no attempt for this long is forgotten. */
  forgetAfterMs: number;
  maxKeys: number;
}

/** 250 ms: a device with a typo in its secret waits a quarter second; its retries back off far more than that anyway. */
export const DEFAULT_LOGIN_DELAY_MS = 250;
/** 8 s: under the CONNECT deadline's order of magnitude, so a slowed attempt is still answered. */
export const DEFAULT_LOGIN_MAX_DELAY_MS = 8_000;
/** 10 failures (about 40 s of delays) before attempts from that address for that sensor are refused. */
export const DEFAULT_LOGIN_MAX_FAILURES = 10;
/** 15 min of quiet lifts the refusal. */
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

/** "go": verify now; "wait": verify once `ms` have passed; "refuse": too many failures, do not verify. */
export type LoginCheck = { kind: "go" } | { kind: "wait"; ms: number } | { kind: "refuse" };

interface KeyState {
  failures: number;
  /** When the next attempt may be verified. */
  nextAt: number;
  lastAttemptAt: number;
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

  /** Before verifying a password for `sensorId` from `address`: whether to, and when. Reserves the attempt's turn. */
  check(address: string, sensorId: string, now: number): LoginCheck {
    const state = this.#state(address, sensorId, now);
    if (state === undefined) return { kind: "go" };
    state.lastAttemptAt = now;
    if (state.failures >= this.limits.maxFailures) return { kind: "refuse" };
    const at = Math.max(now, state.nextAt);
    // The next attempt queues behind this one, by the same delay.
    state.nextAt = at + this.#delay(state.failures);
    return at <= now ? { kind: "go" } : { kind: "wait", ms: at - now };
  }

  /** The password was wrong (or the sensor unknown). */
  failed(address: string, sensorId: string, now: number): void {
    let key = this.#key(address, sensorId);
    let state = this.#keys.get(key);
    if (state === undefined) {
      if ((this.#keysPerAddress.get(address) ?? 0) >= MAX_KEYS_PER_ADDRESS) {
        key = address + ANY_SENSOR;
        state = this.#keys.get(key);
      }
    }
    if (state === undefined) {
      state = { failures: 0, nextAt: now, lastAttemptAt: now, address };
      this.#keysPerAddress.set(address, (this.#keysPerAddress.get(address) ?? 0) + 1);
    } else this.#keys.delete(key);
    state.failures++;
    state.lastAttemptAt = now;
    state.nextAt = Math.max(state.nextAt, now + this.#delay(state.failures));
    this.#keys.set(key, state);
    while (this.#keys.size > this.limits.maxKeys) this.#evict(this.#keys.keys().next().value as string);
  }

  /** The right password: the key starts afresh. */
  succeeded(address: string, sensorId: string): void {
    const key = this.#key(address, sensorId);
    if (this.#keys.has(key)) this.#evict(key);
  }

  /** Keys held (at most limits.maxKeys). */
  get size(): number {
    return this.#keys.size;
  }

  /** The key's state, if it has one and it is not stale (a stale one is dropped). */
  #state(address: string, sensorId: string, now: number): KeyState | undefined {
    let key = this.#key(address, sensorId);
    let state = this.#keys.get(key);
    if (state === undefined && (this.#keysPerAddress.get(address) ?? 0) >= MAX_KEYS_PER_ADDRESS) {
      key = address + ANY_SENSOR;
      state = this.#keys.get(key);
    }
    if (state === undefined) return undefined;
    // A clock stepped back counts as quiet time passed, rather than a refusal that never ends.
    if (now - state.lastAttemptAt >= this.limits.forgetAfterMs || now < state.lastAttemptAt) {
      this.#evict(key);
      return undefined;
    }
    return state;
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
