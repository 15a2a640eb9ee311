/*
 * A user's app (load-app.ts) on the fleet engine, many devices per
 * xsnap-worker, each in a compartment of its own: the project's ES module
 * bundle (the one mcconfig builds for a board) as it is, and for each module
 * it imports that a board's runtime does not provide
 *   - the Moddable SDK's driver, where $MODDABLE has it in plain JavaScript,
 *     linked as a module compiled once per worker (it talks to the register
 *     model on the device's bus);
 *   - else the app's value model standing in for it, run on the host;
 *   - else an error naming the module and what to give, as sim-modules.ts
 *     says it for the one-worker-per-device script.
 * The app's register models run on the host, each answering at the clock
 * of the device that asks.
 */
import { readFileSync } from "node:fs";
import { SIMULATED_MODULES } from "../../hosts/bundle/device-plugins.js";
import type { I2cTarget } from "../engine/i2c-bus.js";
import type { DeviceSpec } from "../fleet/fleet-device.js";
import type { PartSpec } from "../sensors/part-builder.js";
import { ProjectError, type LoadedApp } from "./load-app.js";
import type { ModelContext } from "./models.js";
import { sdkSensorDrivers } from "./sim-modules.js";
import { valueModelRequests } from "./value-models.js";

/** The name the fleet gives a part modelled by the app's register models (it is answered on the host). */
export const APP_MODEL_PART = "app-model";

export interface FleetApp {
  /** The bundle every device runs. */
  bundle: string;
  /** The SDK drivers it links, by specifier: the source of each. */
  modules: Readonly<Record<string, string>>;
  /** The specifiers its value models stand in for. */
  values: readonly string[];
  /** mc/config values of the app's models, for every device. */
  config: Readonly<Record<string, unknown>>;
  /** Device n's parts: the app's register models, each answering at `now`, the device's clock. */
  partsFor(n: number, sensorId: string, now: () => number): Pick<DeviceSpec, "parts" | "hostParts" | "valueDrivers">;
}

/** The modules an ES module imports (rollup's output: static imports at the top level). */
export function importsOf(source: string): string[] {
  const found = new Set<string>();
  for (const match of source.matchAll(/(?:^|[;\n])\s*(?:import|export)\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"'\n]+)["']/g)) found.add(match[1]);
  return [...found];
}

export function fleetApp(app: LoadedApp, moddable: string | undefined = process.env.MODDABLE): FleetApp {
  const { project, models } = app;
  const source = readFileSync(project.bundle, "utf8");
  const modules: Record<string, string> = {};
  const values: string[] = [];
  const missing: string[] = [];
  for (const specifier of importsOf(source)) {
    if (Object.hasOwn(SIMULATED_MODULES, specifier)) continue;
    const sdk = moddable && specifier.startsWith("embedded:sensor/") ? sdkSensorDrivers(moddable).get(specifier) : undefined;
    if (sdk && !sdk.native) {
      modules[specifier] = readFileSync(sdk.file, "utf8");
      const beyond = importsOf(modules[specifier]).filter((s) => !Object.hasOwn(SIMULATED_MODULES, s));
      if (beyond.length > 0) missing.push(`"${specifier}" (the SDK's ${sdk.file}) imports ${beyond.map((s) => `"${s}"`).join(", ")}, which the simulator does not have`);
    } else if (models.drivers?.[specifier]) {
      values.push(specifier);
    } else {
      const why = sdk?.native ? `the SDK's driver cannot run in the simulator: ${sdk.native}`
        : !specifier.startsWith("embedded:sensor/") ? "it is not a module of a board's runtime"
        : moddable ? `$MODDABLE (${moddable}) has no driver of that name` : "$MODDABLE is not set to an SDK checkout";
      missing.push(`"${specifier}": ${why}; give a value model for it in the app's simulator models (drivers: { "${specifier}": ... })`);
    }
  }
  if (missing.length > 0) throw new ProjectError(`${project.bundle} imports what the simulator cannot give it:\n  ${missing.join("\n  ")}`);
  const addresses = Object.keys(models.i2c ?? {}).map(Number);
  return {
    bundle: project.bundle,
    modules,
    values,
    config: models.config ?? {},
    partsFor(n, sensorId, now) {
      const context: ModelContext = { sensorId, seed: n, now };
      const parts: PartSpec[] = addresses.map((address) => ({ part: APP_MODEL_PART, address, host: true }));
      const hostParts = new Map<number, I2cTarget>(addresses.map((address) => [address, models.i2c![address](context)]));
      // Stand-ins open their models anew at every boot, as the app constructs its drivers anew.
      const valueDrivers = values.length > 0 ? { specifiers: values, requests: () => valueModelRequests(models, context) } : undefined;
      return { parts, hostParts, valueDrivers };
    },
  };
}
