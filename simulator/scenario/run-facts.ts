/*
 * What a scenario run saw, for its expectations and its report: each
 * device's samples (its own trace, "observation seq=N ...", with the boot
 * it was taken in), its boots and how each ended, its power cuts, its
 * uncaught exceptions. Times are ms since the scenario's start. Pure: the
 * runner feeds it.
 */

export interface Sample {
  seq: number;
  boot: number;
  at: number;
  /** The first reading's quantity and value, as the device traced it. */
  quantity: string;
  value: number;
}

export interface BootRecord {
  boot: number;
  at: number;
  /** How it ended: a power cut (in a flash operation), or power off; undefined while it runs. */
  endedBy?: "power-cut" | "power-off";
  endedAt?: number;
}

const SAMPLE = /^observation seq=(\d+) (\w+)=(-?[\d.]+|NaN)/;
const BOOT = /^xsedge device \S+ boot (\d+):/;

export class RunFacts {
  readonly samples = new Map<string, Sample[]>();
  readonly boots = new Map<string, BootRecord[]>();
  readonly uncaught: Array<{ sensorId: string; at: number; text: string }> = [];
  readonly halts: Array<{ sensorId: string; at: number; reason: string }> = [];
  /** The scenario's own actions as they happened, for the report. */
  readonly actions: Array<{ at: number; what: string }> = [];

  /** A trace line of a device: its samples and boots are read from it. */
  trace(sensorId: string, at: number, line: string): void {
    const boot = BOOT.exec(line);
    if (boot) {
      const list = this.boots.get(sensorId) ?? [];
      list.push({ boot: Number(boot[1]), at });
      this.boots.set(sensorId, list);
      return;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) return;
    const list = this.samples.get(sensorId) ?? [];
    list.push({ seq: Number(sample[1]), boot: this.currentBoot(sensorId), at, quantity: sample[2], value: Number(sample[3]) });
    this.samples.set(sensorId, list);
  }

  halted(sensorId: string, at: number, reason: string): void {
    this.halts.push({ sensorId, at, reason });
    this.#end(sensorId, at, "power-cut");
  }

  poweredOff(sensorId: string, at: number): void {
    this.#end(sensorId, at, "power-off");
  }

  uncaughtException(sensorId: string, at: number, text: string): void {
    this.uncaught.push({ sensorId, at, text });
  }

  action(at: number, what: string): void {
    this.actions.push({ at, what });
  }

  currentBoot(sensorId: string): number {
    const list = this.boots.get(sensorId);
    return list && list.length > 0 ? list[list.length - 1].boot : 0;
  }

  /** Samples taken before `until`, every device. */
  *sampledBefore(until: number): IterableIterator<[string, Sample]> {
    for (const [sensorId, list] of this.samples) for (const sample of list) if (sample.at < until) yield [sensorId, sample];
  }

  #end(sensorId: string, at: number, how: "power-cut" | "power-off"): void {
    const list = this.boots.get(sensorId);
    const last = list?.[list.length - 1];
    if (last && last.endedBy === undefined) {
      last.endedBy = how;
      last.endedAt = at;
    }
  }
}
