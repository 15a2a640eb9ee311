/*
 * A register-level model of the Bosch BME280 (datasheet BST-BME280-DS002) on
 * the simulator's I2C bus: the memory map with a real trimming set packed as
 * Table 16 lays it out, chip id, soft reset with its NVM copy, forced mode
 * with the typical measurement time of section 9.1, data shadowing (the data
 * registers change only when a measurement ends), and the ADC resolution of
 * sections 3.4.2-3.4.3 (16 + osrs - 1 bits with the IIR filter off).
 *
 * To answer with physical values it inverts the compensation: it searches,
 * by bisection over the monotonic double-precision formulas of section 8.1,
 * for the raw ADC value that compensates closest to the requested value.
 * Those formulas are its own, not the driver's integer code, so a round trip
 * through the driver checks the driver against an independent reading of
 * the datasheet.
 */
import type { I2cTarget } from "../engine/i2c-bus.js";

export const BME280_ADDRESS = 0x76;
export const BME280_CHIP_ID = 0x60;

export interface Bme280Trimming {
  digT1: number; digT2: number; digT3: number;
  digP1: number; digP2: number; digP3: number; digP4: number; digP5: number;
  digP6: number; digP7: number; digP8: number; digP9: number;
  digH1: number; digH2: number; digH3: number; digH4: number; digH5: number; digH6: number;
}

/**
 * T and P: the worked example of the BMP280 datasheet (section 3.12), whose
 * compensation the BME280 shares. H: Bosch publishes no example; these are
 * typical of real parts.
 */
export const EXAMPLE_TRIMMING: Readonly<Bme280Trimming> = Object.freeze({
  digT1: 27504, digT2: 26435, digT3: -1000,
  digP1: 36477, digP2: -10685, digP3: 3024, digP4: 2855, digP5: 140,
  digP6: -7, digP7: 15500, digP8: -14600, digP9: 6000,
  digH1: 75, digH2: 362, digH3: 0, digH4: 313, digH5: 50, digH6: 30,
});

export type Bme280Channel = "temperature" | "pressure" | "humidity";
export interface Bme280Raw { temperature: number; pressure: number; humidity: number }

/** Section 8.1, double precision; t_fine as the datasheet's code keeps it, an int32. */
export function compensateDouble(c: Bme280Trimming, raw: Bme280Raw): Bme280Raw & { tFine: number } {
  const { celsius, tFine } = temperatureOf(c, raw.temperature);
  return { temperature: celsius, pressure: pressure(c, raw.pressure, tFine), humidity: humidity(c, raw.humidity, tFine), tFine };
}

function temperatureOf(c: Bme280Trimming, adc: number): { celsius: number; tFine: number } {
  const t1 = (adc / 16384 - c.digT1 / 1024) * c.digT2;
  const t2 = (adc / 131072 - c.digT1 / 8192) ** 2 * c.digT3;
  return { celsius: (t1 + t2) / 5120, tFine: Math.trunc(t1 + t2) };
}

function pressure(c: Bme280Trimming, adc: number, tFine: number): number {
  let var1 = tFine / 2 - 64000;
  let var2 = (((var1 * var1 * c.digP6) / 32768 + var1 * c.digP5 * 2) / 4) + c.digP4 * 65536;
  var1 = (1 + ((c.digP3 * var1 * var1) / 524288 + c.digP2 * var1) / 524288 / 32768) * c.digP1;
  const p = ((1048576 - adc - var2 / 4096) * 6250) / var1;
  return p + ((c.digP9 * p * p) / 2147483648 + (p * c.digP8) / 32768 + c.digP7) / 16;
}

function humidity(c: Bme280Trimming, adc: number, tFine: number): number {
  const x = tFine - 76800;
  let h = (adc - (c.digH4 * 64 + (c.digH5 / 16384) * x)) * ((c.digH2 / 65536) * (1 + (c.digH6 / 67108864) * x * (1 + (c.digH3 / 67108864) * x)));
  h = h * (1 - (c.digH1 * h) / 524288);
  return Math.min(100, Math.max(0, h));
}

/** Where to start: the last answer (a signal moves little between samples) and which way f runs. */
export interface InvertHint {
  start: number;
  rising: boolean;
}

/**
 * The n in [0, top] whose f(n) is closest to target, for f monotonic in n.
 * The compensation formulas are smooth, so a few Newton steps from an
 * interpolated guess land within a step of the answer; a bracket is found
 * around it by galloping, and bisection finishes inside the bracket. Same
 * answer as bisecting the whole range, in a handful of evaluations of f
 * instead of sixty (which cost a fleet worker a millisecond per sample).
 */
export function invert(f: (n: number) => number, target: number, top: number, hint?: InvertHint): number {
  let rising: boolean;
  let guess: number;
  const clamp = (n: number) => (Number.isFinite(n) ? Math.min(top, Math.max(0, Math.round(n))) : 0);
  if (hint) {
    rising = hint.rising;
    guess = clamp(hint.start);
  } else {
    const f0 = f(0);
    const fTop = f(top);
    rising = fTop > f0;
    guess = clamp(((target - f0) * top) / (fTop - f0));
  }
  // n is left of the answer: the first n whose f(n) is not short of the target.
  const short = (n: number) => (rising ? f(n) < target : f(n) > target);
  for (let i = 0; i < 4; i++) {
    const here = f(guess);
    const slope = guess < top ? f(guess + 1) - here : here - f(guess - 1);
    const next = slope ? clamp(guess - (here - target) / slope) : guess;
    if (next === guess) break;
    guess = next;
  }
  let lo: number;
  let hi: number;
  if (short(guess)) {
    lo = guess + 1;
    hi = top;
    for (let step = 1; lo + step <= top; step *= 2) {
      if (!short(lo + step - 1)) {
        hi = lo + step - 1;
        break;
      }
      lo += step;
    }
    lo = Math.min(lo, hi);
  } else {
    hi = guess;
    lo = 0;
    for (let step = 1; hi - step >= 0; step *= 2) {
      if (short(hi - step)) {
        lo = hi - step + 1;
        break;
      }
      hi -= step;
    }
    lo = Math.min(lo, hi);
  }
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (short(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && Math.abs(f(lo - 1) - target) <= Math.abs(f(lo) - target) ? lo - 1 : lo;
}

/** Packs a trimming set as the part stores it (Table 16): little-endian words, H4 and H5 sharing 0xE5. */
export function packTrimming(c: Bme280Trimming, registers: Uint8Array): void {
  const words = [c.digT1, c.digT2, c.digT3, c.digP1, c.digP2, c.digP3, c.digP4, c.digP5, c.digP6, c.digP7, c.digP8, c.digP9];
  words.forEach((w, i) => {
    registers[0x88 + 2 * i] = w & 0xff;
    registers[0x89 + 2 * i] = (w >> 8) & 0xff;
  });
  registers[0xa1] = c.digH1;
  registers[0xe1] = c.digH2 & 0xff;
  registers[0xe2] = (c.digH2 >> 8) & 0xff;
  registers[0xe3] = c.digH3;
  registers[0xe4] = (c.digH4 >> 4) & 0xff;
  registers[0xe5] = ((c.digH5 & 0x0f) << 4) | (c.digH4 & 0x0f);
  registers[0xe6] = (c.digH5 >> 4) & 0xff;
  registers[0xe7] = c.digH6 & 0xff;
}

/** Writes kept for tests to look at. */
const LOGGED_LIMIT = 64;
const RESET_WORD = 0xb6;
const STARTUP_MS = 2; // Table 1: the NVM copy (im_update) ends within t_startup
const FORCED = 0b01; // 0b10 is forced mode too (section 5.4.5)
const CALIBRATION = new Set([...Array.from({ length: 0xa2 - 0x88 }, (_, i) => 0x88 + i), 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7]);
/** Oversampling factor for each osrs code (Tables 20, 23, 24); codes above 5 are ×16 too. */
const FACTOR = [0, 1, 2, 4, 8, 16, 16, 16];

export interface Bme280ModelOptions {
  temperature: () => number; // °C
  pressure: () => number; // Pa
  humidity: () => number; // %RH
  /** The device's clock, ms. */
  now: () => number;
  trimming?: Bme280Trimming;
  chipId?: number;
}

export class Bme280Model implements I2cTarget {
  readonly registers = new Uint8Array(256);
  readonly trimming: Bme280Trimming;
  private readonly options: Bme280ModelOptions;
  private pointer = 0;
  private nvmUntil = -Infinity;
  private measurement: { until: number; data: Uint8Array } | undefined;
  /** The last LOGGED_LIMIT register writes in order, as [register, value] (a model runs for days in a fleet). */
  readonly writes: Array<[number, number]> = [];
  /** Fault injection: the part does not acknowledge. */
  unplugged = false;
  /** Fault injection: these channels report "skipped" whatever the oversampling says. */
  readonly forceSkipped = new Set<Bme280Channel>();
  /** Fault injection: measurements take this much longer than the typical time. */
  extraMeasureMs = 0;
  /** Test hook: ADC values to report instead of inverting the physical ones. */
  raw: Partial<Bme280Raw> | undefined;
  private lastEncoded: { celsius: number; pascal: number; percent: number; osrsT: number; osrsP: number; raw: Bme280Raw } | undefined;
  /** Which way each compensation runs with this part's trimming (at a mid-range temperature). */
  private readonly rising: Readonly<Record<Bme280Channel, boolean>>;

  constructor(options: Bme280ModelOptions) {
    this.options = options;
    this.trimming = options.trimming ?? EXAMPLE_TRIMMING;
    packTrimming(this.trimming, this.registers);
    const c = this.trimming;
    const { tFine } = temperatureOf(c, 1 << 19);
    this.rising = {
      temperature: temperatureOf(c, (1 << 20) - 1).celsius > temperatureOf(c, 0).celsius,
      pressure: pressure(c, (1 << 20) - 1, tFine) > pressure(c, 0, tFine),
      humidity: humidity(c, 0xffff, tFine) > humidity(c, 0, tFine),
    };
    this.registers[0xd0] = options.chipId ?? BME280_CHIP_ID;
    this.resetRegisters();
  }

  /** ADC values whose compensation comes closest to these physical values, at these osrs codes. */
  encode(celsius: number, pascal: number, percent: number, osrsT = 5, osrsP = 5): Bme280Raw {
    const last = this.lastEncoded;
    // A part read again under the same conditions answers the same (a constant signal costs nothing).
    if (last && last.celsius === celsius && last.pascal === pascal && last.percent === percent && last.osrsT === osrsT && last.osrsP === osrsP) return last.raw;
    const c = this.trimming;
    const stepT = 1 << (20 - Math.min(20, 15 + osrsT));
    const stepP = 1 << (20 - Math.min(20, 15 + osrsP));
    // The last answer is where to start looking; the directions of the formulas do not change.
    const hint = (n: number | undefined, step: number, rising: boolean): InvertHint | undefined => (n === undefined ? undefined : { start: n / step, rising });
    const same = last?.osrsT === osrsT && last?.osrsP === osrsP;
    const temperature = stepT * invert((n) => temperatureOf(c, n * stepT).celsius, celsius, (1 << 20) / stepT - 1, hint(same ? last!.raw.temperature : undefined, stepT, this.rising.temperature));
    const { tFine } = temperatureOf(c, temperature);
    const raw = {
      temperature,
      pressure: stepP * invert((n) => pressure(c, n * stepP, tFine), pascal, (1 << 20) / stepP - 1, hint(same ? last!.raw.pressure : undefined, stepP, this.rising.pressure)),
      humidity: invert((n) => humidity(c, n, tFine), percent, 0xffff, hint(last?.raw.humidity, 1, this.rising.humidity)),
    };
    this.lastEncoded = { celsius, pascal, percent, osrsT, osrsP, raw };
    return raw;
  }

  write(bytes: Uint8Array): boolean {
    if (this.unplugged) return false;
    if (bytes.byteLength === 0) return true;
    if (bytes.byteLength === 1) {
      this.pointer = bytes[0];
      return true;
    }
    // Writes are register/value pairs (section 6.2.1).
    if (bytes.byteLength % 2 !== 0) return false;
    for (let i = 0; i < bytes.byteLength; i += 2) this.store(bytes[i], bytes[i + 1]);
    return true;
  }

  read(count: number): Uint8Array | undefined {
    if (this.unplugged) return undefined;
    this.settle();
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = this.load(Math.min(0xff, this.pointer++));
    return out;
  }

  private store(register: number, value: number): void {
    if (this.writes.length >= LOGGED_LIMIT) this.writes.shift();
    this.writes.push([register, value]);
    this.settle();
    if (register === 0xe0) {
      if (value === RESET_WORD) this.resetRegisters();
    } else if (register === 0xf2) {
      this.registers[0xf2] = value & 0x07;
    } else if (register === 0xf4) {
      this.registers[0xf4] = value;
      const mode = value & 0b11;
      if (mode === FORCED || mode === 0b10) this.startMeasurement();
      // Normal mode (0b11) is not modelled: the driver does not use it.
    } else if (register === 0xf5) {
      this.registers[0xf5] = value;
    }
  }

  private load(register: number): number {
    const now = this.options.now();
    if (register === 0xf3) return (this.measurement ? 1 << 3 : 0) | (now < this.nvmUntil ? 1 : 0);
    // Trimming reads back as zeros while the NVM is still being copied.
    if (now < this.nvmUntil && CALIBRATION.has(register)) return 0;
    return this.registers[register];
  }

  private resetRegisters(): void {
    this.registers.fill(0, 0xf2, 0xf6);
    // Reset values of the data registers (Table 18): 0x80000 for P and T, 0x8000 for H.
    this.registers.set([0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00], 0xf7);
    this.measurement = undefined;
    this.nvmUntil = this.options.now() + STARTUP_MS;
  }

  private startMeasurement(): void {
    const osrsH = this.registers[0xf2] & 0x07; // latched now: ctrl_hum counts only from a ctrl_meas write
    const osrsT = this.registers[0xf4] >> 5;
    const osrsP = (this.registers[0xf4] >> 2) & 0x07;
    const enabled = { temperature: osrsT > 0, pressure: osrsP > 0, humidity: osrsH > 0 };
    const adc = { ...this.encode(this.options.temperature(), this.options.pressure(), this.options.humidity(), osrsT, osrsP), ...this.raw };
    for (const channel of this.forceSkipped) enabled[channel] = false;
    const p = enabled.pressure ? adc.pressure : 0x80000;
    const t = enabled.temperature ? adc.temperature : 0x80000;
    const h = enabled.humidity ? adc.humidity : 0x8000;
    const data = Uint8Array.of(p >> 12, (p >> 4) & 0xff, (p & 0x0f) << 4, t >> 12, (t >> 4) & 0xff, (t & 0x0f) << 4, h >> 8, h & 0xff);
    // Typical measurement time, section 9.1.
    const [ft, fp, fh] = [FACTOR[osrsT], FACTOR[osrsP], FACTOR[osrsH]];
    const ms = 1 + 2 * ft + (fp ? 2 * fp + 0.5 : 0) + (fh ? 2 * fh + 0.5 : 0) + this.extraMeasureMs;
    this.measurement = { until: this.options.now() + ms, data };
  }

  /** Ends a measurement whose time has come: the data registers change only now (data shadowing), and the part sleeps. */
  private settle(): void {
    if (!this.measurement || this.options.now() < this.measurement.until) return;
    this.registers.set(this.measurement.data, 0xf7);
    this.registers[0xf4] &= ~0b11;
    this.measurement = undefined;
  }
}
