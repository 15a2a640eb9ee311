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
 *
 * Samples taken while a backlog is built or drained (the cloud down, or
 * the gateway's relay behind) are not judged: the outbox then holds its
 * bounded working set (the in-memory tail of unrelayed rows, the batches
 * read back from SQLite) and V8 lets a quickly allocating old space fill
 * with garbage until its next major collection, so a run whose judged
 * window ends in an outage or a drain shows a rise that says nothing about
 * a leak. What a drain leaks stays after it: the steady samples after the
 * drain, judged with those before it, still show it.
 */

export interface MemorySample {
  /** ms since the process started. */
  t: number;
  bytes: number;
  /** Taken while a backlog was built or drained: not judged. */
  backlog?: boolean;
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
  | { judged: false; samples: number; backlogSamples: number; reason: string }
  | {
      judged: true;
      samples: number;
      /** Samples after the warm-up left out because a backlog was built or drained meanwhile. */
      backlogSamples: number;
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
  const afterWarmup = series.filter((s) => s.t >= options.warmupMs);
  const judged = afterWarmup.filter((s) => !s.backlog);
  const backlogSamples = afterWarmup.length - judged.length;
  if (judged.length < options.minSamples) {
    const outside = backlogSamples > 0 ? ` outside a backlog (${backlogSamples} during one)` : "";
    return { judged: false, samples: judged.length, backlogSamples, reason: `${judged.length} samples after the warm-up${outside} (at least ${options.minSamples} needed)` };
  }
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
    backlogSamples,
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
