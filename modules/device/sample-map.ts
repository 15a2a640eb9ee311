/*
 * From an ECMA-419 sample object to readings. The standard's sensor classes
 * name their properties (Temperature: `temperature` in °C, Humidity:
 * `humidity` in %, AtmosphericPressure: `pressure` in Pa, AmbientLight:
 * `illuminance` in lux, Accelerometer: `x`, `y`, `z` in m/s², ...). A driver
 * for one class returns them flat (`{ temperature }`); a driver for a part
 * that is several sensors groups them by class (`{ thermometer: {
 * temperature }, hygrometer: { humidity } }`, as the Moddable SDK's SHT3x
 * does). Each property becomes a standard quantity with its SenML unit,
 * scaled where the standard's unit is not SenML's (µT to T, cm to m, ppb to
 * ppm).
 *
 * Pure, and allocation-free per sample: a plan is built once per sensor, and
 * sampling walks it, reading properties into the sensor's reused reading
 * slots. A property the plan does not know is left out, never guessed at.
 */
import { QUANTITIES, type QuantityInfo } from "../observation/quantities.js";
import { MAX_READINGS, type Reading } from "../observation/record.js";

export interface PlanEntry {
  readonly prop: string;
  readonly quantity: QuantityInfo;
  /** Multiplies the driver's value into the quantity's unit. */
  readonly scale: number;
}

export interface SamplePlan {
  /** Properties read from the sample itself. */
  readonly flat: readonly PlanEntry[];
  /** Properties read from an object-valued property of the sample: a class of a combined part. */
  readonly groups: readonly (readonly [string, readonly PlanEntry[]])[];
}

/** What a sensor's declaration may say about a property: another quantity (by name or declared), or null to leave it out. */
export type QuantityMapping = Readonly<Record<string, QuantityInfo | string | null>>;

const entry = (prop: string, name: string, scale = 1): PlanEntry => Object.freeze({ prop, quantity: QUANTITIES[name], scale });

/** Properties of the one-value classes, by the name the standard gives them. */
const FLAT: readonly PlanEntry[] = Object.freeze([
  entry("temperature", "temperature"),
  entry("humidity", "humidity"),
  entry("pressure", "pressure"),
  entry("illuminance", "illuminance"),
  entry("CO2", "co2"),
  // The SDK's CCS811 driver writes C-zero-2; read it too rather than lose its readings.
  entry("C02", "co2"),
  entry("tvoc", "tvoc", 0.001),
  entry("distance", "distance", 0.01),
  entry("near", "proximity"),
  entry("moisture", "soil_moisture"),
  entry("O", "oxygen"),
  entry("voltage", "voltage"),
  entry("current", "current"),
  entry("power", "power"),
  entry("energy", "energy"),
  entry("frequency", "frequency"),
  entry("powerFactor", "power_factor"),
]);

const xyz = (names: readonly [string, string, string], scale: number): readonly PlanEntry[] =>
  Object.freeze([entry("x", names[0], scale), entry("y", names[1], scale), entry("z", names[2], scale)]);

/**
 * Groups of a combined part, each with its class's properties. Gyroscopes are not among them: SenML registers
 * no unit of angular velocity, so their values are left out unless the app
 * maps them to a quantity it declares.
 */
const only = (...props: string[]): readonly PlanEntry[] => Object.freeze(FLAT.filter((e) => props.includes(e.prop)));
const GROUPS: SamplePlan["groups"] = Object.freeze([
  ["thermometer", only("temperature")],
  ["hygrometer", only("humidity")],
  ["barometer", only("pressure")],
  ["lightmeter", only("illuminance")],
  ["ambientLight", only("illuminance")],
  ["carbonDioxideGasSensor", only("CO2", "C02")],
  ["vocSensor", only("tvoc")],
  ["proximity", only("distance", "near")],
  // The SDK's PZEM-004T energy meter puts its readings under `sample`.
  ["sample", only("voltage", "current", "power", "energy", "frequency", "powerFactor")],
  ["accelerometer", xyz(["acceleration_x", "acceleration_y", "acceleration_z"], 1)],
  // The standard's magnetometer reads microtesla; SenML's unit is the tesla.
  ["magnetometer", xyz(["magnetic_flux_x", "magnetic_flux_y", "magnetic_flux_z"], 1e-6)],
] as const);

export const DEFAULT_PLAN: SamplePlan = Object.freeze({ flat: FLAT, groups: GROUPS });

/**
 * The plan for a sensor whose declaration maps some properties itself:
 * `"temperature"` for a flat property, `"thermometer.temperature"` for one
 * in a group. `resolve` turns a quantity's name into its definition (the
 * standard table or the app's declared ones) and throws for an unknown one.
 */
export function planFor(mapping: QuantityMapping | undefined, resolve: (name: string) => QuantityInfo): SamplePlan {
  if (!mapping) return DEFAULT_PLAN;
  const mapped = (prop: string, path: string, fallback: PlanEntry | undefined): PlanEntry | undefined => {
    if (!Object.hasOwn(mapping, path)) return fallback;
    const target = mapping[path];
    if (target === null) return undefined;
    return Object.freeze({ prop, quantity: typeof target === "string" ? resolve(target) : target, scale: fallback?.scale ?? 1 });
  };
  const entries = (base: readonly PlanEntry[], prefix: string): PlanEntry[] => {
    const out: PlanEntry[] = [];
    for (const e of base) {
      const m = mapped(e.prop, prefix + e.prop, prefix ? mapped(e.prop, e.prop, e) : e);
      if (m) out.push(m);
    }
    // Paths the standard does not name: the app's own properties.
    for (const path of Object.keys(mapping)) {
      const dot = path.indexOf(".");
      const group = dot < 0 ? "" : path.slice(0, dot) + ".";
      const prop = dot < 0 ? path : path.slice(dot + 1);
      if (group === prefix && !base.some((e) => e.prop === prop)) {
        const m = mapped(prop, path, undefined);
        if (m) out.push(m);
      }
    }
    return out;
  };
  const groupNames = new Set<string>(GROUPS.map(([name]) => name));
  for (const path of Object.keys(mapping)) if (path.includes(".")) groupNames.add(path.slice(0, path.indexOf(".")));
  const groups: Array<readonly [string, readonly PlanEntry[]]> = [];
  for (const name of groupNames) {
    const base = GROUPS.find(([g]) => g === name)?.[1] ?? [];
    groups.push([name, entries(base, `${name}.`)]);
  }
  return Object.freeze({ flat: entries(FLAT, ""), groups });
}

function numberOf(raw: unknown): number | undefined {
  if (typeof raw === "number") return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw === "boolean") return raw ? 1 : 0;
  return undefined;
}

function fill(readings: Reading[], count: number, e: PlanEntry, raw: unknown): number {
  const value = numberOf(raw);
  if (value === undefined || count === MAX_READINGS) return count;
  const name = e.quantity.name;
  // One reading per quantity: a part that gives a value flat and grouped gives it once.
  for (let i = 0; i < count; i++) if (readings[i].quantity === name) return count;
  const slot = readings[count];
  slot.quantity = name;
  slot.value = value * e.scale;
  const declared = e.quantity.code === 0;
  slot.unit = declared ? e.quantity.unit : undefined;
  slot.exponent = declared ? e.quantity.exponent : undefined;
  return count + 1;
}

/** Fills `readings` (MAX_READINGS reused slots) from `sample` by `plan`; returns how many it filled. */
export function mapSample(plan: SamplePlan, sample: unknown, readings: Reading[]): number {
  if (sample === null || typeof sample !== "object") return 0;
  const values = sample as Record<string, unknown>;
  let count = 0;
  // Indexed loops and the undefined test first: most properties of the plan are absent from a sample.
  const flat = plan.flat;
  for (let i = 0; i < flat.length; i++) {
    const raw = values[flat[i].prop];
    if (raw !== undefined) count = fill(readings, count, flat[i], raw);
  }
  const groups = plan.groups;
  for (let g = 0; g < groups.length; g++) {
    const inner = values[groups[g][0]];
    if (inner === undefined || inner === null || typeof inner !== "object") continue;
    const entries = groups[g][1];
    for (let i = 0; i < entries.length; i++) {
      const raw = (inner as Record<string, unknown>)[entries[i].prop];
      if (raw !== undefined) count = fill(readings, count, entries[i], raw);
    }
  }
  return count;
}

/** Reading slots for mapSample and the runtime: allocated once per sensor. */
export function readingSlots(): Reading[] {
  const slots: Reading[] = [];
  for (let i = 0; i < MAX_READINGS; i++) slots.push({ quantity: "", value: 0, unit: undefined, exponent: undefined });
  return slots;
}
