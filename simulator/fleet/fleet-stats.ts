/*
 * What a fleet costs and how well it keeps time: memory per device, CPU per
 * device-second (every worker and the host together), and how late the
 * devices' timers fire in real time. Pure: the engine feeds it readings.
 */

/** Upper bounds of the lateness buckets, ms. */
export const LATENESS_BOUNDS_MS: readonly number[] = [10, 50, 100, 250, 500, 1000, 2000, 5000, Infinity];

/** How late steps started after the earliest deadline they were due for. */
export class Lateness {
  readonly counts = new Array<number>(LATENESS_BOUNDS_MS.length).fill(0);
  max = 0;
  total = 0;

  add(ms: number): void {
    const late = Math.max(0, ms);
    this.total++;
    if (late > this.max) this.max = late;
    let bucket = 0;
    while (late > LATENESS_BOUNDS_MS[bucket]) bucket++;
    this.counts[bucket]++;
  }

  /** The bound below which `share` (0 to 1) of the steps started. */
  quantile(share: number): number {
    if (this.total === 0) return 0;
    let seen = 0;
    for (let bucket = 0; bucket < this.counts.length; bucket++) {
      seen += this.counts[bucket];
      if (seen >= share * this.total) return Math.min(LATENESS_BOUNDS_MS[bucket], this.max);
    }
    return this.max;
  }

  merge(other: Lateness): void {
    for (let bucket = 0; bucket < this.counts.length; bucket++) this.counts[bucket] += other.counts[bucket];
    this.total += other.total;
    this.max = Math.max(this.max, other.max);
  }

  reset(): void {
    this.counts.fill(0);
    this.max = 0;
    this.total = 0;
  }
}

export interface ProcessReading {
  cpuMs: number;
  rssBytes: number;
}

export interface CostReading {
  at: number;
  workers: ProcessReading[];
  host: ProcessReading;
}

export interface FleetCost {
  devices: number;
  workers: number;
  /** Resident memory of the workers and the host, per device. */
  memoryPerDeviceBytes: number;
  workersRssBytes: number;
  hostRssBytes: number;
  /** CPU time of the workers and the host per second of every device's life, µs; NaN without an interval. */
  cpuPerDeviceSecondUs: number;
  workersCpuShare: number;
}

/** The cost between two readings (or of the second alone, for memory). */
export function fleetCost(devices: number, from: CostReading | undefined, to: CostReading): FleetCost {
  const workersRss = to.workers.reduce((sum, w) => sum + w.rssBytes, 0);
  const perDevice = devices > 0 ? (workersRss + to.host.rssBytes) / devices : 0;
  let cpu = NaN;
  let workersShare = NaN;
  if (from && to.at > from.at && devices > 0) {
    const workersCpu = to.workers.reduce((sum, w, i) => sum + w.cpuMs - (from.workers[i]?.cpuMs ?? 0), 0);
    const hostCpu = to.host.cpuMs - from.host.cpuMs;
    const deviceSeconds = (devices * (to.at - from.at)) / 1000;
    cpu = ((workersCpu + hostCpu) * 1000) / deviceSeconds;
    workersShare = workersCpu + hostCpu > 0 ? workersCpu / (workersCpu + hostCpu) : NaN;
  }
  return {
    devices,
    workers: to.workers.length,
    memoryPerDeviceBytes: perDevice,
    workersRssBytes: workersRss,
    hostRssBytes: to.host.rssBytes,
    cpuPerDeviceSecondUs: cpu,
    workersCpuShare: workersShare,
  };
}
