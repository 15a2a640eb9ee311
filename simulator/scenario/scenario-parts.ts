/*
 * The parts of a scenario file that describe what a part measures and how
 * it fails: signals (constant, sine, random walk, CSV trace, each with
 * noise) and faults (NACK, disconnected, bad CRC, corrupted reads, stuck).
 */
import { MIN_WALK_STEP_MS, parseTraceCsv, type SignalSpec } from "../sensors/signal.js";
import type { FaultSpec } from "../sensors/part-faults.js";
import { PARTS_WITH_CRC, type PartSignals } from "../sensors/part-builder.js";
import { show, type Field, type FieldReader } from "./yaml-fields.js";

export const QUANTITIES = ["temperature", "humidity", "pressure"] as const;
const KINDS = ["constant", "sine", "randomWalk", "trace"] as const;
const FAULT_KEYS = ["nack", "disconnected", "badCrc", "corrupt", "stuck"] as const;

/** Reads a CSV trace named by a scenario (relative to its file). */
export type TraceLoader = (file: string) => string;

function signal(r: FieldReader, field: Field, loadTrace: TraceLoader): SignalSpec | undefined {
  // The kind decides which other keys belong; it is read first.
  const raw = r.value(field);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return r.error(field, `must be a mapping with a kind (${KINDS.join(", ")}), got ${show(raw)}`);
  const kind = (raw as Record<string, unknown>).kind;
  const keys: Record<(typeof KINDS)[number], readonly string[]> = {
    constant: ["kind", "value", "noise"],
    sine: ["kind", "mean", "amplitude", "period", "phase", "noise"],
    randomWalk: ["kind", "start", "step", "stepSize", "min", "max", "noise"],
    trace: ["kind", "file", "points", "loop", "noise"],
  };
  if (typeof kind !== "string" || !(KINDS as readonly string[]).includes(kind)) {
    const kindField = r.object(field, ["kind", ...new Set(Object.values(keys).flat())])?.get("kind");
    return r.error(kindField ?? { ...field, path: `${field.path}.kind` }, `must be one of ${KINDS.join(", ")}, got ${show(kind)}`);
  }
  const fields = r.object(field, keys[kind as (typeof KINDS)[number]]);
  if (!fields) return undefined;
  const need = (name: string) => {
    const f = fields.get(name);
    if (!r.present(f)) r.error({ node: field.node, path: `${field.path}.${name}` }, "is required");
    return r.present(f) ? f : undefined;
  };
  const num = (name: string, range = {}) => (need(name) ? r.number(fields.get(name)!, range) : undefined);
  const noiseField = fields.get("noise");
  const noise = r.present(noiseField) ? r.number(noiseField, { min: 0 }) : undefined;
  switch (kind) {
    case "constant": {
      const value = num("value");
      return value === undefined ? undefined : { kind, value, noise };
    }
    case "sine": {
      const mean = num("mean");
      const amplitude = num("amplitude", { min: 0 });
      const periodMs = need("period") ? r.duration(fields.get("period")!, { min: 1 }) : undefined;
      const phaseField = fields.get("phase");
      const phaseMs = r.present(phaseField) ? r.duration(phaseField) : 0;
      if (mean === undefined || amplitude === undefined || periodMs === undefined || phaseMs === undefined) return undefined;
      return { kind, mean, amplitude, periodMs, phaseMs, noise };
    }
    case "randomWalk": {
      const start = num("start");
      const stepMs = need("step") ? r.duration(fields.get("step")!, { min: MIN_WALK_STEP_MS }) : undefined;
      const stepSize = num("stepSize", { min: 0 });
      const minField = fields.get("min");
      const maxField = fields.get("max");
      const min = r.present(minField) ? r.number(minField) : undefined;
      const max = r.present(maxField) ? r.number(maxField) : undefined;
      if (min !== undefined && max !== undefined && min > max) return r.error(fields.get("max")!, `must not be below min (${min})`);
      if (start === undefined || stepMs === undefined || stepSize === undefined) return undefined;
      return { kind, start, stepMs, stepSize, min, max, noise };
    }
    default: {
      const fileField = fields.get("file");
      const pointsField = fields.get("points");
      const loopField = fields.get("loop");
      const loop = r.present(loopField) ? r.boolean(loopField) : false;
      let points: Array<[number, number]> | undefined;
      if (r.present(fileField) === r.present(pointsField)) return r.error({ node: field.node, path: `${field.path}.file` }, "a trace takes either file (a CSV of time,value rows) or points, one of them");
      if (r.present(fileField)) {
        const file = r.string(fileField);
        if (file === undefined) return undefined;
        try {
          points = parseTraceCsv(loadTrace(file), file);
        } catch (error) {
          return r.error(fileField, (error as Error).message);
        }
      } else {
        const rows = r.list(pointsField!);
        if (!rows) return undefined;
        points = [];
        for (const row of rows) {
          const pair = r.value(row);
          if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[1] !== "number") return r.error(row, `must be [time, value], got ${show(pair)}`);
          const t = r.duration({ node: (row.node as unknown as { items: never[] }).items[0], path: `${row.path}[0]` });
          if (t === undefined) return undefined;
          if (points.length > 0 && t < points[points.length - 1][0]) return r.error(row, "times must not go backwards");
          points.push([t, pair[1]]);
        }
        if (points.length === 0) return r.error(pointsField!, "needs at least one point");
      }
      if (loop === undefined) return undefined;
      return { kind: "trace", points, loop, noise };
    }
  }
}

/** `signals:` of a device group or an event: quantity → signal. */
export function readSignals(r: FieldReader, field: Field, loadTrace: TraceLoader): PartSignals | undefined {
  const fields = r.object(field, QUANTITIES);
  if (!fields) return undefined;
  const signals: PartSignals = {};
  for (const [quantity, f] of fields) {
    const spec = signal(r, f, loadTrace);
    if (spec) signals[quantity as (typeof QUANTITIES)[number]] = spec;
  }
  return signals;
}

/** `faults:` of a device group or an event. */
export function readFaults(r: FieldReader, field: Field, part: string | undefined): FaultSpec | undefined {
  const fields = r.object(field, FAULT_KEYS);
  if (!fields) return undefined;
  const faults: FaultSpec = {};
  for (const [key, f] of fields) {
    if (key === "disconnected" || key === "stuck") {
      const on = r.boolean(f);
      if (on !== undefined) faults[key] = on;
      continue;
    }
    const probability = r.number(f, { min: 0, max: 1 });
    if (probability === undefined) continue;
    if (key === "badCrc" && part !== undefined && !PARTS_WITH_CRC.has(part)) {
      r.error(f, `${part} results carry no CRC (only ${[...PARTS_WITH_CRC].join(", ")}); corrupt damages any part's reads`);
      continue;
    }
    faults[key as "nack" | "badCrc" | "corrupt"] = probability;
  }
  return faults;
}
