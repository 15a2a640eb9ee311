/*
 * The median of several runs' measurements, leaf by leaf: each number is
 * the median of that number across the runs (the mean of the middle two
 * for an even count), everything else is the first run's. Runs must have
 * the same shape (an area's measure() returns the same keys and array
 * lengths every time); where they do not, the first run's shape wins and
 * a leaf missing from a run is left out of that leaf's median.
 */

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function medianOfRuns<T>(runs: readonly T[]): T {
  if (runs.length === 0) throw new RangeError("no runs to take a median of");
  return combine(runs as readonly unknown[]) as T;
}

function combine(values: readonly unknown[]): unknown {
  const first = values[0];
  if (typeof first === "number") {
    const numbers = values.filter((v): v is number => typeof v === "number" && !Number.isNaN(v));
    return numbers.length === 0 ? first : median(numbers);
  }
  if (Array.isArray(first)) {
    return first.map((_, i) => combine(values.filter(Array.isArray).map((v) => v[i])));
  }
  if (first !== null && typeof first === "object") {
    const objects = values.filter((v): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v));
    return Object.fromEntries(Object.keys(first).map((key) => [key, combine(objects.filter((o) => key in o).map((o) => o[key]))]));
  }
  return first;
}

/** The smallest and largest of a number across runs: how far apart the runs were. */
export function spread(values: readonly number[]): { min: number; max: number } {
  return { min: Math.min(...values), max: Math.max(...values) };
}
