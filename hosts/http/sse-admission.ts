/*
 * How many Server-Sent Events subscribers a server holds: a cap in all and
 * one per client address, checked before a session (its socket, its timer,
 * its page of rows) exists. Each subscriber costs a socket, a store read
 * and a JSON serialisation per commit, and up to its send buffer in memory
 * (sse.ts), so without caps a thousand idle clients slow every device's
 * acknowledgement. Pure counting; the server answers the refusal.
 */

export interface SseLimits {
  /** Subscribers at once, all addresses together. */
  maxClients: number;
  /** Subscribers at once from one address (a browser tab each; a misbehaving script many). */
  maxClientsPerAddress: number;
  /** Bytes queued for one subscriber beyond which the server writes no more until it drains (see sse.ts). */
  maxBufferedBytes: number;
}

/**
 * 64 streams: a dashboard tab each, with room for a few scripts; each is
 * woken on every commit, so this bounds the work a commit causes.
 */
export const DEFAULT_SSE_MAX_CLIENTS = 64;
/** 8 from one address: a person with several tabs open, not a flood. */
export const DEFAULT_SSE_MAX_CLIENTS_PER_ADDRESS = 8;
/** 256 KiB: a page of observations (sse.ts reads 500 rows, ~150 kB) plus room, so a reading client never waits on it. */
export const DEFAULT_SSE_MAX_BUFFERED_BYTES = 256 * 1024;

export const DEFAULT_SSE_LIMITS: Readonly<SseLimits> = Object.freeze({
  maxClients: DEFAULT_SSE_MAX_CLIENTS,
  maxClientsPerAddress: DEFAULT_SSE_MAX_CLIENTS_PER_ADDRESS,
  maxBufferedBytes: DEFAULT_SSE_MAX_BUFFERED_BYTES,
});

export type SseRefusalReason = "maxClients" | "maxClientsPerAddress";

export type Admission =
  | { ok: true; release(): void }
  /** 503 when the server is full (try later), 429 when this address holds its share. */
  | { ok: false; reason: SseRefusalReason; status: 503 | 429; message: string };

export function checkSseLimits(limits: SseLimits, what = "SSE limits"): SseLimits {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${what}: ${name} must be a positive integer, got ${value}`);
  }
  return limits;
}

export class SseAdmission {
  readonly limits: SseLimits;
  readonly #perAddress = new Map<string, number>();
  #open = 0;
  readonly #refused: Record<SseRefusalReason, number> = { maxClients: 0, maxClientsPerAddress: 0 };

  constructor(limits: SseLimits = DEFAULT_SSE_LIMITS) {
    this.limits = checkSseLimits({ ...limits });
  }

  /** Takes a place for a subscriber from `address`; `release` gives it back (once, however often called). */
  admit(address: string): Admission {
    const held = this.#perAddress.get(address) ?? 0;
    if (this.#open >= this.limits.maxClients) {
      this.#refused.maxClients++;
      return { ok: false, reason: "maxClients", status: 503, message: `the server holds its ${this.limits.maxClients} event streams (maxClients); try again later` };
    }
    if (held >= this.limits.maxClientsPerAddress) {
      this.#refused.maxClientsPerAddress++;
      return { ok: false, reason: "maxClientsPerAddress", status: 429, message: `this address holds its ${this.limits.maxClientsPerAddress} event streams (maxClientsPerAddress); close one first` };
    }
    this.#open++;
    this.#perAddress.set(address, held + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#open--;
        const left = (this.#perAddress.get(address) ?? 1) - 1;
        // Addresses with no stream are forgotten, so the map holds at most maxClients entries.
        if (left === 0) this.#perAddress.delete(address);
        else this.#perAddress.set(address, left);
      },
    };
  }

  get open(): number {
    return this.#open;
  }

  /** Subscribers refused, by the limit that refused them. */
  refused(): Record<SseRefusalReason, number> {
    return { ...this.#refused };
  }
}
