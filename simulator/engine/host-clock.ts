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
  /** A device blocked in Timer.delay: a virtual clock moves on, a real one already does. */
  delay(ms: number): void;
}

export class RealClock implements HostClock {
  now(): number {
    return Date.now();
  }

  setTimer(at: number, fire: () => unknown): unknown {
    // Node's timers take at most 2^31-1 ms; a later deadline is re-armed on the next event anyway.
    const timer = setTimeout(() => void fire(), Math.min(Math.max(0, at - Date.now()), 0x7fffffff));
    return timer;
  }

  clearTimer(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
  }

  delay(): void {}
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
