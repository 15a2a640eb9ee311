/*
 * What a simulated part measures over time: a constant, a sine, a random
 * walk or a recorded trace, plus Gaussian noise. Every value is a function
 * of the device's seed and the time asked about, never of how often it was
 * asked, so a virtual-time run repeats byte for byte for the same seed.
 *
 * Pure, XS built-ins only: the fleet runs it inside XS beside the register
 * models (see rollup.config.js).
 */

export type SignalSpec =
  | { kind: "constant"; value: number; noise?: number }
  /** mean + amplitude × sin(2π (t + phaseMs) / periodMs) */
  | { kind: "sine"; mean: number; amplitude: number; periodMs: number; phaseMs?: number; noise?: number }
  /** From `start`, a Gaussian step of σ = stepSize every stepMs, reflected at min and max. */
  | { kind: "randomWalk"; start: number; stepMs: number; stepSize: number; min?: number; max?: number; noise?: number }
  /** [ms since the origin, value] points, linearly interpolated; held at the ends, or repeated when `loop`. */
  | { kind: "trace"; points: ReadonlyArray<readonly [number, number]>; loop?: boolean; noise?: number };

export type SignalKind = SignalSpec["kind"];
export const SIGNAL_KINDS: readonly SignalKind[] = ["constant", "sine", "randomWalk", "trace"];
/** A random walk's step may not be shorter: each sample walks every step since the last. */
export const MIN_WALK_STEP_MS = 100;

/** splitmix32's finalizer: a well-mixed 32-bit hash of three integers. */
export function mix(a: number, b: number, c: number): number {
  let h = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul(b | 0, 0x85ebca77) ^ Math.imul(c | 0, 0xc2b2ae3d)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad);
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97);
  return (h ^ (h >>> 15)) >>> 0;
}

/** A uniform draw in (0, 1) for (seed, stream, n). */
export function uniform(seed: number, stream: number, n: number): number {
  return (mix(seed, stream, n) + 0.5) / 4294967296;
}

/** A standard normal draw for (seed, stream, n) (Box–Muller). */
export function gaussian(seed: number, stream: number, n: number): number {
  const u = uniform(seed, stream, 2 * n);
  const v = uniform(seed, stream ^ 0x5bd1e995, 2 * n + 1);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A signal's value at `t` ms since its origin. `stream` keeps two signals of one device apart. */
export function signal(spec: SignalSpec, seed: number, stream: number): (t: number) => number {
  const noisy = (base: (t: number) => number) => {
    const sigma = spec.noise ?? 0;
    if (!(sigma > 0)) return base;
    // One draw per millisecond of the clock, whoever asks.
    return (t: number) => base(t) + sigma * gaussian(seed, stream + 1, Math.floor(t));
  };
  switch (spec.kind) {
    case "constant":
      return noisy(() => spec.value);
    case "sine": {
      const { mean, amplitude, periodMs } = spec;
      const phase = spec.phaseMs ?? 0;
      return noisy((t) => mean + amplitude * Math.sin((2 * Math.PI * ((t + phase) % periodMs)) / periodMs));
    }
    case "randomWalk":
      return noisy(randomWalk(spec, seed, stream));
    case "trace":
      return noisy(tracePoints(spec.points, spec.loop === true));
  }
}

function randomWalk(spec: Extract<SignalSpec, { kind: "randomWalk" }>, seed: number, stream: number): (t: number) => number {
  const min = spec.min ?? -Infinity;
  const max = spec.max ?? Infinity;
  const stepMs = Math.max(MIN_WALK_STEP_MS, spec.stepMs);
  // The walk so far, kept so a sample walks only the steps since the last one.
  let steps = 0;
  let value = spec.start;
  return (t: number) => {
    const want = Math.max(0, Math.floor(t / stepMs));
    if (want < steps) {
      steps = 0;
      value = spec.start;
    }
    while (steps < want) {
      steps++;
      value += spec.stepSize * gaussian(seed, stream, steps);
      if (value > max) value = max - (value - max);
      if (value < min) value = min + (min - value);
      if (value > max) value = max;
    }
    return value;
  };
}

function tracePoints(points: ReadonlyArray<readonly [number, number]>, loop: boolean): (t: number) => number {
  if (points.length === 0) return () => NaN;
  const last = points[points.length - 1][0];
  return (time: number) => {
    const t = loop && last > 0 ? ((time % last) + last) % last : time;
    if (t <= points[0][0]) return points[0][1];
    if (t >= last) return points[points.length - 1][1];
    // Binary search for the segment [lo, lo + 1] that holds t.
    let lo = 0;
    let hi = points.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (points[mid][0] <= t) lo = mid;
      else hi = mid;
    }
    const [t0, v0] = points[lo];
    const [t1, v1] = points[hi];
    return t1 === t0 ? v1 : v0 + ((v1 - v0) * (t - t0)) / (t1 - t0);
  };
}

/**
 * Reads a CSV trace: one `time,value` row per line (time in ms since the
 * origin, or with an `s`, `m` or `h` suffix), an optional header line, `#`
 * comments. Errors name the line.
 */
export function parseTraceCsv(text: string, name = "trace"): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  const lines = text.split(/\r?\n/);
  const unit: Record<string, number> = { "": 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const cells = line.split(",").map((cell) => cell.trim());
    const time = /^(-?\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(cells[0] ?? "");
    const value = Number(cells[1]);
    if (!time || cells.length < 2 || cells[1] === "" || !Number.isFinite(value)) {
      if (points.length === 0 && i === lines.findIndex((l) => l.trim() !== "" && !l.trim().startsWith("#"))) return; // a header
      throw new RangeError(`${name}:${i + 1}: expected "time,value", got "${line.slice(0, 60)}"`);
    }
    const t = Number(time[1]) * unit[time[2] ?? ""];
    if (points.length > 0 && t < points[points.length - 1][0]) throw new RangeError(`${name}:${i + 1}: times must not go backwards`);
    points.push([t, value]);
  });
  if (points.length === 0) throw new RangeError(`${name}: no "time,value" rows`);
  return points;
}
