/*
 * Which observations a rule is given: its sensor patterns ("greenhouse-*",
 * "?" for one character) and, optionally, quantities. Pure; compiled once
 * per loaded version and asked for every stored observation, so it costs a
 * regular expression test and, with quantities, a substring search of the
 * readings' JSON as stored (no parse).
 */
import type { Reading } from "../../../modules/observation/record.js";

function patternToRegExp(patterns: readonly string[]): RegExp {
  const alternatives = patterns.map((p) => p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, "."));
  return new RegExp(`^(?:${alternatives.join("|")})$`);
}

export class RuleSelector {
  readonly #sensors: RegExp;
  readonly #quantities: readonly string[] | null;
  /** `"quantity":"temperature"` as JSON.stringify writes a stored reading. */
  readonly #needles: readonly string[] | null;

  constructor(sensors: readonly string[], quantities: readonly string[] | null) {
    this.#sensors = patternToRegExp(sensors);
    this.#quantities = quantities;
    this.#needles = quantities && quantities.map((q) => `"quantity":${JSON.stringify(q)}`);
  }

  matchesSensor(sensorId: string): boolean {
    return this.#sensors.test(sensorId);
  }

  /** A stored row, its readings still JSON. */
  matchesRow(sensorId: string, readingsJson: string): boolean {
    if (!this.#sensors.test(sensorId)) return false;
    return this.#needles === null || this.#needles.some((needle) => readingsJson.includes(needle));
  }

  matches(sensorId: string, readings: readonly Reading[]): boolean {
    return this.#sensors.test(sensorId) && this.matchesReadings(readings);
  }

  /** The quantities alone, for a sensor already matched. */
  matchesReadings(readings: readonly Reading[]): boolean {
    const quantities = this.#quantities;
    return quantities === null || readings.some((r) => quantities.includes(r.quantity));
  }
}
