// The parts the built-in app supports (config `sensor`), named for hosts and tests.
export type SensorPart = "tmp117" | "sht3x" | "bme280";
export const SENSOR_PARTS: readonly SensorPart[] = Object.freeze(["tmp117", "sht3x", "bme280"]);
