/*
 * xsedge/simulator: what an app's simulator models module may use — the
 * types (models.ts) and the register models and environment of our own
 * parts, to put beside the app's own.
 */
export { simulatorModels, type I2cTarget, type ModelContext, type SimulatorModels, type ValueModel } from "./models.js";
export { Tmp117Model, TMP117_ADDRESS } from "../sensors/tmp117-model.js";
export { Sht3xModel, SHT3X_ADDRESS } from "../sensors/sht3x-model.js";
export { Bme280Model, BME280_ADDRESS } from "../sensors/bme280-model.js";
export { temperatureProfile } from "../sensors/temperature-profile.js";
