/*
 * How an app's project attaches simulated parts to its devices: the default
 * export of its simulator models module (package.json "xsedge.models",
 * build/js/sim/models.js by default), typed here and exported as
 * `xsedge/simulator`. Two kinds of model:
 *  - register level, on the device's I2C bus at the part's address: the
 *    interface our own parts' models use (I2cTarget: write and read bytes,
 *    NACK by returning false or undefined), so the app's real driver runs;
 *  - value level, for a driver the simulator cannot run (a Moddable SDK
 *    driver without $MODDABLE, a part not worth describing register by
 *    register): a sample() that returns what the driver would, in its
 *    ECMA-419 shape, standing in for the driver's module specifier.
 */
import type { I2cTarget } from "../engine/i2c-bus.js";

export type { I2cTarget };

/** What a model knows of the device it serves. */
export interface ModelContext {
  readonly sensorId: string;
  /** 1 for the first device, 2 for the second, ...: to make each device's values its own. */
  readonly seed: number;
  /** The device's clock, ms (virtual in tests and benchmarks). */
  now(): number;
}

export interface ValueModel {
  /** One sample, as the driver's sample() would return it (`{ temperature: 21.5 }`, `{ thermometer: { ... } }`). */
  sample(): object;
  configure?(options: Record<string, unknown>): void;
}

export interface SimulatorModels {
  /** Register-level models by 7-bit I2C address. */
  i2c?: Readonly<Record<number, (context: ModelContext) => I2cTarget>>;
  /** Value-level models by the module specifier the app imports the driver as; `sensor`: the bus options it was given. */
  drivers?: Readonly<Record<string, (context: ModelContext, sensor: Readonly<Record<string, unknown>>) => ValueModel>>;
  /** mc/config values for every simulated device of this app (its own settings' values). */
  config?: Readonly<Record<string, unknown>>;
}

/** Types a models module's default export: `export default simulatorModels({ ... })`. */
export function simulatorModels(models: SimulatorModels): SimulatorModels {
  return models;
}
