/*
 * What a simulated sensor measures: a daily cycle around a per-device mean
 * plus small deterministic noise, so runs are repeatable and each device's
 * readings are recognisably its own.
 */
const DAY_MS = 24 * 60 * 60 * 1000;

export interface TemperatureProfileOptions {
  meanCelsius?: number;
  dailySwingCelsius?: number;
  noiseCelsius?: number;
  seed?: number;
}

/** Returns °C at a given clock time (ms). */
export function temperatureProfile(options: TemperatureProfileOptions = {}): (now: number) => number {
  const mean = options.meanCelsius ?? 21;
  const swing = options.dailySwingCelsius ?? 3;
  const noise = options.noiseCelsius ?? 0.05;
  let state = (options.seed ?? 1) >>> 0 || 1;
  return (now: number) => {
    // xorshift32: cheap, seedable, good enough for sensor jitter.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    const jitter = ((state / 0xffffffff) * 2 - 1) * noise;
    return mean + swing * Math.sin((2 * Math.PI * (now % DAY_MS)) / DAY_MS) + jitter;
  };
}
