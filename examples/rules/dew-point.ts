/*
 * Dew point: a virtual sensor "<sensor>.dewpoint" beside every sensor that
 * measures temperature and humidity (an SHT3x, a BME280), stored and
 * relayed like any other observation. The Magnus formula with Sonntag's
 * constants, good to about 0.35 °C from -45 °C to 60 °C.
 */
import { defineRule, readingOf } from "xsedge/rules";

const A = 17.62;
const B = 243.12; // °C

export function dewPoint(temperature: number, humidity: number): number {
  const gamma = Math.log(humidity / 100) + (A * temperature) / (B + temperature);
  return (B * gamma) / (A - gamma);
}

export default defineRule({
  name: "dew-point",
  description: "a <sensor>.dewpoint virtual sensor from temperature and humidity",
  select: { sensors: "*", quantities: ["humidity"] },
  initialState: () => ({}),
  onObservation(observation, ctx) {
    const temperature = readingOf(observation, "temperature");
    const humidity = readingOf(observation, "humidity");
    // A sample the sensor could not read has no value, never a made-up one; nor does its dew point.
    if (temperature === undefined || humidity === undefined || !(humidity > 0)) return;
    ctx.derive({
      sensorId: `${observation.sensorId}.dewpoint`,
      readings: [{ quantity: "temperature", value: dewPoint(temperature, humidity) }],
      time: observation.time ?? ctx.now,
    });
  },
  selfTest(test) {
    const out = test.observe({ sensorId: "room-1", readings: [{ quantity: "temperature", value: 20 }, { quantity: "humidity", value: 50 }] });
    const value = out.derived[0]?.readings[0]?.value;
    test.check(value !== undefined && Math.abs(value - 9.26) < 0.01, `20 °C at 50 %RH has a dew point of 9.26 °C, got ${value}`);
    test.check(out.derived[0]?.sensorId === "room-1.dewpoint", "the virtual sensor is <sensor>.dewpoint");
    const none = test.observe({ sensorId: "room-1", readings: [{ quantity: "humidity", value: 50 }] });
    test.check(none.derived.length === 0, "no temperature, no dew point");
  },
});
