/*
 * What a record's readings can measure. Each standard quantity has a code
 * (the byte a record carries), a SenML unit and a decimal exponent: the
 * resolution worth sending, so 21.37 °C travels as the integer 2137. An app
 * may declare a quantity of its own (name, SenML unit, exponent); it has no
 * code and travels as its definition (modules/SPEC.md, "Quantities").
 *
 * Codes are allocated here, in order, and never reused or changed: a new
 * standard quantity takes the next free code, and a new resolution of an
 * existing one is a new quantity with a new code. A receiver that meets a
 * code it does not know refuses the record rather than guess.
 */
import { isSenmlUnit } from "./senml-units.js";
import { shown } from "./shown-value.js";

export interface QuantityInfo {
  /** The code a record carries; 0 for a quantity an app declared, which travels as its definition. */
  readonly code: number;
  readonly name: string;
  /** SenML unit symbol (RFC 8428, RFC 8798) of the value. */
  readonly unit: string;
  /** Decimal exponent of the mantissa on the wire: the value is `mantissa × 10^exponent`. */
  readonly exponent: number;
}

/** An app-declared quantity's code: it has none on the wire. */
export const DECLARED = 0;
/** Declared names: lower case, digits and "_", so they read the same in JSON, SQL and dashboards. */
export const QUANTITY_NAME_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;
/** Beyond ±9 a mantissa of a physical value would exceed what a record's integers are worth. */
export const MAX_EXPONENT = 9;

/** [code, name, unit, exponent]: the standard table, in code order. */
const TABLE: ReadonlyArray<readonly [number, string, string, number]> = [
  [1, "temperature", "Cel", -2],
  [2, "humidity", "%RH", -2],
  [3, "pressure", "Pa", 0],
  [4, "illuminance", "lx", -1],
  [5, "co2", "ppm", 0],
  [6, "tvoc", "ppm", -3],
  [7, "acceleration_x", "m/s2", -3],
  [8, "acceleration_y", "m/s2", -3],
  [9, "acceleration_z", "m/s2", -3],
  [10, "magnetic_flux_x", "T", -8],
  [11, "magnetic_flux_y", "T", -8],
  [12, "magnetic_flux_z", "T", -8],
  [13, "distance", "m", -3],
  [14, "proximity", "/", 0],
  [15, "soil_moisture", "/", -3],
  [16, "oxygen", "ppm", 0],
  [17, "voltage", "V", -3],
  [18, "current", "A", -3],
  [19, "power", "W", -1],
  [20, "energy", "Wh", 0],
  [21, "frequency", "Hz", -2],
  [22, "power_factor", "/", -2],
  [23, "battery", "%EL", 0],
  [24, "count", "count", 0],
  [25, "pm1", "ug/m3", -1],
  [26, "pm2_5", "ug/m3", -1],
  [27, "pm10", "ug/m3", -1],
  [28, "sound_level", "dB", -1],
  [29, "uv_index", "/", -2],
  [30, "wind_speed", "m/s", -2],
  [31, "wind_direction", "deg", 0],
  [32, "rainfall_rate", "mm/h", -1],
  [33, "latitude", "lat", -7],
  [34, "longitude", "lon", -7],
  [35, "altitude", "m", -2],
  [36, "ph", "pH", -2],
  [37, "conductivity", "S/m", -4],
  [38, "state", "/", 0],
  [39, "level", "/", -3],
  [40, "flow_rate", "l/s", -3],
  [41, "resistance", "Ohm", 0],
  [42, "rssi", "dBm", 0],
];

const byName: Record<string, QuantityInfo> = {};
const byCode: (QuantityInfo | undefined)[] = [undefined];
for (const [code, name, unit, exponent] of TABLE) {
  const info = Object.freeze({ code, name, unit, exponent });
  byName[name] = info;
  byCode[code] = info;
}

/** The standard quantities by name. */
export const QUANTITIES: Readonly<Record<string, QuantityInfo>> = Object.freeze(byName);
/** The standard quantities by code; undefined for a code this table does not have. */
export const QUANTITY_BY_CODE: readonly (QuantityInfo | undefined)[] = Object.freeze(byCode);
/** The highest code allocated: a receiver names it when it refuses a code it does not know. */
export const LAST_QUANTITY_CODE = TABLE[TABLE.length - 1][0];

export function standardQuantity(name: string): QuantityInfo | undefined {
  return Object.hasOwn(QUANTITIES, name) ? QUANTITIES[name] : undefined;
}

/**
 * Why a declared quantity is not acceptable, or undefined when it is: the
 * one check the device (at boot) and the receivers (on every record) share.
 */
export function declaredQuantityProblem(name: unknown, unit: unknown, exponent: unknown): string | undefined {
  if (typeof name !== "string" || !QUANTITY_NAME_PATTERN.test(name)) return `name must be 1 to 32 of a-z 0-9 _ starting with a letter, got ${shown(name)}`;
  if (standardQuantity(name)) return `"${name}" is a standard quantity (code ${QUANTITIES[name].code}); use it rather than declare it`;
  if (typeof unit !== "string" || !isSenmlUnit(unit)) return `unit ${shown(unit)} is not a SenML unit symbol`;
  if (typeof exponent !== "number" || !Number.isInteger(exponent) || Math.abs(exponent) > MAX_EXPONENT) {
    return `exponent must be an integer from ${-MAX_EXPONENT} to ${MAX_EXPONENT}, got ${shown(exponent)}`;
  }
  return undefined;
}

/** A quantity of the app's own; RangeError says what is wrong with it. */
export function declareQuantity(name: string, unit: string, exponent: number): QuantityInfo {
  const problem = declaredQuantityProblem(name, unit, exponent);
  if (problem) throw new RangeError(`quantity: ${problem}`);
  return Object.freeze({ code: DECLARED, name, unit, exponent });
}
