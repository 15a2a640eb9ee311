/*
 * Behaviours a gateway test turns on to see how the gateway copes: a server
 * that never acks, streams reset after N events, calls answered UNAVAILABLE,
 * and events sent as backtracking (source "BT", no payload) so the consumer
 * must LoadEvent them. Plain state and decisions; the services consult it.
 */

export interface SwitchSettings {
  /** ConsumeEvent stores events but sends no ConsumerEventAck. */
  neverAck: boolean;
  /**
   * Each stream ends with INTERNAL (what a client sees after RST_STREAM) once
   * it has carried this many events; on ConsumeEvent the last one is stored
   * but its ack is not sent, the nastiest moment for a producer. null: never.
   */
  resetAfterEvents: number | null;
  /** The next this-many calls of the Akka services are answered UNAVAILABLE. */
  unavailableCalls: number;
  /** Journal events whose ordinal is a multiple of this are sent as "BT"; null: none. */
  backtrackEvery: number | null;
}

export const NO_FAULTS: SwitchSettings = { neverAck: false, resetAfterEvents: null, unavailableCalls: 0, backtrackEvery: null };

export class StandinSwitches {
  #settings: SwitchSettings;

  constructor(settings: Partial<SwitchSettings> = {}) {
    this.#settings = { ...NO_FAULTS };
    this.set(settings);
  }

  /** Changes the given switches; streams already open see the change at their next event. */
  set(settings: Partial<SwitchSettings>): void {
    const next = { ...this.#settings, ...settings };
    const positive = (n: number | null) => n === null || (Number.isInteger(n) && n > 0);
    if (!positive(next.resetAfterEvents)) throw new RangeError(`resetAfterEvents must be a positive integer or null, not ${next.resetAfterEvents}`);
    if (!positive(next.backtrackEvery)) throw new RangeError(`backtrackEvery must be a positive integer or null, not ${next.backtrackEvery}`);
    if (!Number.isInteger(next.unavailableCalls) || next.unavailableCalls < 0) throw new RangeError(`unavailableCalls must be a non-negative integer, not ${next.unavailableCalls}`);
    this.#settings = next;
  }

  get settings(): Readonly<SwitchSettings> {
    return this.#settings;
  }

  /** True if this call must be answered UNAVAILABLE (and uses up one of them). */
  takeUnavailable(): boolean {
    if (this.#settings.unavailableCalls === 0) return false;
    this.#settings = { ...this.#settings, unavailableCalls: this.#settings.unavailableCalls - 1 };
    return true;
  }

  /** True once a stream has carried `events` events and must be reset. */
  resetDue(events: number): boolean {
    return this.#settings.resetAfterEvents !== null && events >= this.#settings.resetAfterEvents;
  }

  isBacktracking(ordinal: number): boolean {
    return this.#settings.backtrackEvery !== null && ordinal % this.#settings.backtrackEvery === 0;
  }
}
