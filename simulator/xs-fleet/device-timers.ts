/*
 * Moddable's `timer` module for one simulated device: its timers fire when
 * the fleet's time passes their deadline, and the device's earliest deadline
 * is what the fleet's scheduler orders devices by.
 */
import type { DeviceClock } from "./device-clock.js";

type Callback = (timer: DeviceTimer) => void;

/** Bounds a runaway app: Moddable boards run out of memory long before this. */
export const MAX_TIMERS = 256;
/** Timers fired for one device in one turn: a zero-interval repeat cannot spin forever. */
const MAX_FIRED_PER_TURN = 1000;

export class DeviceTimer {
  callback: Callback;
  deadline: number;
  repeat: number;
  active = false;

  constructor(callback: Callback, deadline: number, repeat: number) {
    this.callback = callback;
    this.deadline = deadline;
    this.repeat = repeat;
  }
}

/** The default export of `timer` as the app sees it: Moddable's static Timer API. */
export interface TimerModule {
  set(callback: Callback, interval?: number, repeat?: number): DeviceTimer;
  repeat(callback: Callback, interval: number): DeviceTimer;
  schedule(timer: DeviceTimer, interval?: number, repeat?: number): void;
  clear(timer: DeviceTimer | undefined | null): void;
  delay(ms: number): void;
}

export class DeviceTimers {
  readonly #clock: DeviceClock;
  readonly #list: DeviceTimer[] = [];
  readonly #changed: () => void;
  readonly module: TimerModule;
  /** Callbacks fired since boot. */
  fired = 0;

  /** `changed` is told whenever the earliest deadline may have moved. */
  constructor(clock: DeviceClock, changed: () => void) {
    this.#clock = clock;
    this.#changed = changed;
    this.module = Object.freeze({
      set: (callback: Callback, interval = 0, repeat = 0) => this.#add(new DeviceTimer(callback, clock.now() + Math.max(0, interval), Math.max(0, repeat))),
      repeat: (callback: Callback, interval: number) => this.#add(new DeviceTimer(callback, clock.now() + Math.max(0, interval), Math.max(1, interval))),
      schedule: (timer: DeviceTimer, interval = 0, repeat = 0) => {
        timer.deadline = clock.now() + Math.max(0, interval);
        timer.repeat = Math.max(0, repeat);
        if (!timer.active) this.#add(timer);
        else this.#changed();
      },
      clear: (timer: DeviceTimer | undefined | null) => this.#remove(timer),
      delay: (ms: number) => {
        if (!(ms >= 0)) throw new RangeError(`Timer.delay: invalid milliseconds ${ms}`);
        clock.delay(ms);
      },
    });
  }

  get count(): number {
    return this.#list.length;
  }

  /** The earliest deadline, or -1 with no timer set. */
  next(): number {
    let next = -1;
    for (const timer of this.#list) if (next < 0 || timer.deadline < next) next = timer.deadline;
    return next;
  }

  /** Fires every timer due on the device's clock, earliest first, including ones that fall due while firing. */
  fireDue(report: (error: unknown) => void): void {
    for (let fired = 0; fired < MAX_FIRED_PER_TURN; fired++) {
      const now = this.#clock.now();
      let due: DeviceTimer | undefined;
      for (const timer of this.#list) if (timer.deadline <= now && (!due || timer.deadline < due.deadline)) due = timer;
      if (!due) return;
      if (due.repeat > 0) due.deadline = Math.max(due.deadline + due.repeat, now);
      else this.#remove(due);
      this.fired++;
      try {
        due.callback.call(due, due);
      } catch (error) {
        report(error);
      }
    }
  }

  clearAll(): void {
    for (const timer of this.#list) timer.active = false;
    this.#list.length = 0;
  }

  #add(timer: DeviceTimer): DeviceTimer {
    if (this.#list.length >= MAX_TIMERS) throw new Error(`too many timers (limit ${MAX_TIMERS})`);
    timer.active = true;
    this.#list.push(timer);
    this.#changed();
    return timer;
  }

  #remove(timer: DeviceTimer | undefined | null): void {
    if (!timer || !timer.active) return;
    timer.active = false;
    const at = this.#list.indexOf(timer);
    if (at >= 0) this.#list.splice(at, 1);
    this.#changed();
  }
}
