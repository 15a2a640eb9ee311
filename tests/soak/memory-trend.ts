/*
 * Whether a process's memory is flat: the soak's judge, pure. A series of
 * resident-memory samples (after a warm-up the process is allowed to grow
 * in) is fitted with a least-squares line; the memory is flat when the
 * line's rise over the judged window stays within both an absolute
 * tolerance and a fraction of the typical size. A line, not first against
 * last sample: one garbage collection or allocator return moves a single
 * sample by more than a slow leak moves the trend.
 *
 * Memory that rose and then stopped (a reconnect storm raised a
 * high-water mark that stays) is told apart from memory that keeps
 * rising: the second half of the window is fitted on its own, and a rise
 * there within the same bounds is "settled", not "growing". Only growing
 * fails the soak; settled is reported, since a longer run is what shows
 * whether it stays settled.
 */

export interface MemorySample {
  /** ms since the process started. */
  t: number;
  bytes: number;
}

export interface TrendOptions {
  /** Samples before this (ms since the process started) are not judged: start-up, caches filling. */
  warmupMs: number;
  /** Rise over the window allowed regardless of size, bytes (allocator and GC noise). */
  toleranceBytes: number;
  /** Rise over the window allowed as a fraction of the median size. */
  maxGrowth: number;
  /** Fewer judged samples than this: too short to say. */
  minSamples: number;
}

export const DEFAULT_TREND: TrendOptions = { warmupMs: 60_000, toleranceBytes: 8 * 2 ** 20, maxGrowth: 0.1, minSamples: 6 };

export type TrendVerdict =
  | { judged: false; samples: number; reason: string }
  | {
      judged: true;
      samples: number;
      /** Window judged, ms. */
      windowMs: number;
      medianBytes: number;
      /** Fitted slope, MiB per hour. */
      slopeMiBPerHour: number;
      /** The fitted line's rise over the window, bytes. */
      riseBytes: number;
      /** riseBytes / medianBytes. */
      growth: number;
      /** The second half's own fitted rise over that half, as a fraction of the median. */
      lateGrowth: number;
      state: "flat" | "settled" | "growing";
      /** Not growing: flat, or settled. */
      flat: boolean;
    };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

/** Least-squares slope of bytes over t, bytes per ms. */
export function slope(samples: readonly MemorySample[]): number {
  const n = samples.length;
  const mt = samples.reduce((s, p) => s + p.t, 0) / n;
  const mb = samples.reduce((s, p) => s + p.bytes, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of samples) {
    num += (p.t - mt) * (p.bytes - mb);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export function judgeTrend(series: readonly MemorySample[], options: TrendOptions = DEFAULT_TREND): TrendVerdict {
  const judged = series.filter((s) => s.t >= options.warmupMs);
  if (judged.length < options.minSamples) return { judged: false, samples: judged.length, reason: `${judged.length} samples after the warm-up (at least ${options.minSamples} needed)` };
  const windowMs = judged[judged.length - 1].t - judged[0].t;
  const perMs = slope(judged);
  const medianBytes = median(judged.map((s) => s.bytes));
  const riseBytes = perMs * windowMs;
  const allowed = Math.max(options.toleranceBytes, options.maxGrowth * medianBytes);
  const late = judged.slice(Math.floor(judged.length / 2));
  const lateRise = late.length >= 2 ? slope(late) * (late[late.length - 1].t - late[0].t) : 0;
  const state = riseBytes <= allowed ? "flat" : lateRise <= allowed / 2 ? "settled" : "growing";
  return {
    judged: true,
    samples: judged.length,
    windowMs,
    medianBytes,
    slopeMiBPerHour: (perMs * 3_600_000) / 2 ** 20,
    riseBytes,
    growth: riseBytes / medianBytes,
    lateGrowth: lateRise / medianBytes,
    state,
    flat: state !== "growing",
  };
}
