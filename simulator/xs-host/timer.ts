/*
 * Moddable's `timer` module over the host's clock. Timers fire when the host
 * delivers an event at or after their deadline; `nextDeadline` tells the host
 * when to come back.
 */
import { advance, now } from "./clock.js";
import { Request } from "./protocol.js";
import { frame, reportUncaught, request } from "./bridge.js";

type Callback = (timer: Timer) => void;

/** Bounds a runaway app: Moddable boards run out of memory long before this. */
const MAX_TIMERS = 256;

class Timer {
  callback: Callback;
  deadline: number;
  repeat: number;
  active = true;

  constructor(callback: Callback, deadline: number, repeat: number) {
    this.callback = callback;
    this.deadline = deadline;
    this.repeat = repeat;
  }

  static set(callback: Callback, interval = 0, repeat = 0): Timer {
    return add(new Timer(callback, now() + Math.max(0, interval), Math.max(0, repeat)));
  }

  static repeat(callback: Callback, interval: number): Timer {
    return add(new Timer(callback, now() + Math.max(0, interval), Math.max(1, interval)));
  }

  static schedule(timer: Timer, interval = 0, repeat = 0): void {
    timer.deadline = now() + Math.max(0, interval);
    timer.repeat = Math.max(0, repeat);
    if (!timer.active) add(timer);
  }

  static clear(timer: Timer | undefined | null): void {
    if (!timer || !timer.active) return;
    timer.active = false;
    const at = timers.indexOf(timer);
    if (at >= 0) timers.splice(at, 1);
  }

  /** Blocks on a board; here the host moves the device's clock on instead. */
  static delay(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`Timer.delay: invalid milliseconds ${ms}`);
    request(frame(Request.DELAY).f64(ms));
    advance(ms);
  }
}

const timers: Timer[] = [];

function add(timer: Timer): Timer {
  if (timers.length >= MAX_TIMERS) throw new Error(`too many timers (limit ${MAX_TIMERS})`);
  timer.active = true;
  timers.push(timer);
  return timer;
}

/** Fires every timer due now, earliest first, including ones that become due while firing. */
export function fireDueTimers(): void {
  // Bounded so a zero-interval repeat cannot spin forever inside one event.
  for (let fired = 0; fired < 10_000; fired++) {
    let due: Timer | undefined;
    for (const timer of timers) if (timer.deadline <= now() && (!due || timer.deadline < due.deadline)) due = timer;
    if (!due) return;
    if (due.repeat > 0) due.deadline = Math.max(due.deadline + due.repeat, now());
    else Timer.clear(due);
    try {
      due.callback.call(due, due);
    } catch (error) {
      reportUncaught(error);
    }
  }
}

export function nextDeadline(): number {
  let next = -1;
  for (const timer of timers) if (next < 0 || timer.deadline < next) next = timer.deadline;
  return next;
}

export default Timer;
