/*
 * Query parameters of the local API, checked strictly: a misspelt or
 * malformed parameter is a 400 naming it, never silently ignored (a typo
 * in `limit` would otherwise look like "only 100 rows exist").
 */
import { HttpError } from "../../http/http-json.js";
import { SENSOR_ID_PATTERN } from "../../../modules/observation/record.js";

/** Refuses parameters outside `allowed`, and any given more than once. */
export function checkParams(params: URLSearchParams, allowed: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (!allowed.includes(name)) {
      const expected = allowed.length > 0 ? `; expected ${allowed.join(", ")}` : "; this route takes none";
      throw new HttpError(400, `unknown query parameter "${name}"${expected}`);
    }
    if (seen.has(name)) throw new HttpError(400, `query parameter ${name} given more than once`);
    seen.add(name);
  }
}

export interface IntRange {
  min: number;
  max: number;
}

/** An integer in `range` from decimal digits, or `fallback` when absent. `name` is what the error calls it. */
export function intValue(name: string, raw: string | null | undefined, range: IntRange, fallback: number): number {
  if (raw === null || raw === undefined) return fallback;
  const value = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= range.min && value <= range.max)) {
    throw new HttpError(400, `${name} must be an integer from ${range.min} to ${range.max}, got "${raw}"`);
  }
  return value;
}

export function sensorIdValue(params: URLSearchParams): string | undefined {
  const raw = params.get("sensorId");
  if (raw === null) return undefined;
  if (!SENSOR_ID_PATTERN.test(raw)) throw new HttpError(400, `sensorId must be 1 to 64 letters, digits or . _ : -, got "${raw}"`);
  return raw;
}
