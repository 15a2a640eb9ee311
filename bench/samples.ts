/*
 * The observations the device and codec figures are measured on: samples
 * of each sensor part one second apart, with values that change as real
 * ones do, and the same observation as JSON would carry it. No Node APIs:
 * the XS codec bench bundles this file too.
 */
import { QUANTITIES, type Observation } from "../modules/observation/record.js";

type Quantity = "temperature" | "humidity" | "pressure";

export const PARTS: Record<string, Quantity[]> = {
  tmp117: ["temperature"],
  sht3x: ["temperature", "humidity"],
  bme280: ["temperature", "humidity", "pressure"],
};

/** A plausible sample n of a part, one second apart. */
export function sample(part: string, n: number): Observation {
  const t = 21 + 2 * Math.sin(n / 3600);
  const value: Record<string, number> = { temperature: t, humidity: 50 - t, pressure: 101_325 + 200 * Math.sin(n / 86_400) };
  return {
    sensorId: "greenhouse-7",
    seq: 86_400 + n,
    boot: 12,
    uptimeMs: 3_600_000 + n * 1000,
    // On the quantity's grid, as the device's record carries it, so that both codecs carry the same values.
    readings: PARTS[part].map((quantity) => {
      const scale = 10 ** -QUANTITIES[quantity].exponent;
      return { quantity, value: Math.round(value[quantity] * scale) / scale };
    }),
  };
}

/** The same observation as JSON would carry it, with units named since JSON has no schema. */
export function asJson(obs: Observation): string {
  return JSON.stringify({ ...obs, readings: obs.readings.map((r) => ({ quantity: r.quantity, unit: QUANTITIES[r.quantity].unit, value: r.value })) });
}
