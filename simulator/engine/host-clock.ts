/*
 * The time that simulated devices live in. The real clock follows the
 * machine; the virtual one moves only when told, so a test or a benchmark can
 * run a device through hours of sampling in seconds, deterministically.
 */
export interface HostClock {
  now(): number;
  /** Calls `fire` at or after `at` (ms on this clock). */
  setTimer(at: number, fire: () => unknown): unknown;
  clearTimer(handle: unknown): void;
  /** A device blocked in Timer.delay for `ms`: its clock moves on by that much. */
  delay(ms: number): void;
}

/**
 * The machine's clock, seen by one device. A device blocked in Timer.delay
 * sees its clock jump by the delay at once (it is blocked, so it cannot tell)
 * and the real clock then catches up; its sensors' models, asked the time in
 * between, see the delay as having passed.
 */
export class RealClock implements HostClock {
  private blockedUntil = 0;

  now(): number {
    return Math.max(Date.now(), this.blockedUntil);
  }

  setTimer(at: number, fire: () => unknown): unknown {
    // Node's timers take at most 2^31-1 ms; a later deadline is re-armed on the next event anyway.
    const timer = setTimeout(() => void fire(), Math.min(Math.max(0, at - this.now()), 0x7fffffff));
    return timer;
  }

  clearTimer(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
  }

  delay(ms: number): void {
    this.blockedUntil = this.now() + ms;
  }
}

interface VirtualTimer {
  at: number;
  order: number;
  fire: () => unknown;
}

export class VirtualClock implements HostClock {
  private current: number;
  private timers = new Set<VirtualTimer>();
  private order = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(at: number, fire: () => unknown): unknown {
    const timer = { at, order: this.order++, fire };
    this.timers.add(timer);
    return timer;
  }

  clearTimer(handle: unknown): void {
    this.timers.delete(handle as VirtualTimer);
  }

  delay(ms: number): void {
    this.current += ms;
  }

  /** Moves time forward by `ms`, firing (and awaiting) every timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.current + ms;
    for (;;) {
      let due: VirtualTimer | undefined;
      for (const timer of this.timers) {
        if (timer.at <= end && (!due || timer.at < due.at || (timer.at === due.at && timer.order < due.order))) due = timer;
      }
      if (!due) break;
      this.timers.delete(due);
      if (due.at > this.current) this.current = due.at;
      await due.fire();
    }
    if (end > this.current) this.current = end;
  }
}
