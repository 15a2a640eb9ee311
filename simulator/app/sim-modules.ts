/*
 * The simulator's script of a device app: the app's ES module bundle (the
 * one mcconfig builds for a board) bundled again as one script for
 * xsnap-worker, its Moddable module specifiers resolved to the simulator's
 * host modules (simulator/xs-host), and its `embedded:sensor/...` drivers to
 *   - the Moddable SDK's own driver, where $MODDABLE points at an SDK
 *     checkout and the driver is plain JavaScript (its manifest names it),
 *     so the real driver talks to the register model on the simulated bus;
 *   - else a value-level stand-in, where the app's models give a value model
 *     for that driver's specifier;
 *   - else an error that says which of the two to give.
 * A specifier that is not an `embedded:sensor/` one gets its value model only.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { rollup, type Plugin } from "@rollup/wasm-node";
import { noNodeBuiltins, SIMULATED_MODULES, SIMULATOR_HOST, stripSourceMapComments } from "../../hosts/bundle/device-plugins.js";

const ENTRY = "\0xsedge-sim-entry";
const VALUE_PREFIX = "\0xsedge-value-sensor:";

export interface SdkDriver {
  file: string;
  /** Why the simulator cannot run it (native code), if it cannot. */
  native?: string;
}

const sdkCache = new Map<string, Map<string, SdkDriver>>();

/** The SDK's sensor drivers, by specifier, from their manifests under modules/drivers/sensors. */
export function sdkSensorDrivers(moddable: string): Map<string, SdkDriver> {
  const cached = sdkCache.get(moddable);
  if (cached) return cached;
  const drivers = new Map<string, SdkDriver>();
  const root = join(moddable, "modules", "drivers", "sensors");
  for (const dir of existsSync(root) ? readdirSync(root) : []) {
    const manifest = join(root, dir, "manifest.json");
    if (!existsSync(manifest)) continue;
    let modules: Record<string, unknown>;
    try {
      modules = (JSON.parse(readFileSync(manifest, "utf8")) as { modules?: Record<string, unknown> }).modules ?? {};
    } catch {
      continue;
    }
    const natives = readdirSync(join(root, dir)).filter((f) => f.endsWith(".c"));
    for (const [specifier, path] of Object.entries(modules)) {
      if (!specifier.startsWith("embedded:sensor/") || typeof path !== "string") continue;
      const file = `${path.replace("$(MODDABLE)", moddable)}.js`;
      if (!existsSync(file)) continue;
      drivers.set(specifier, natives.length > 0 ? { file, native: `its directory has native code (${natives.join(", ")})` } : { file });
    }
  }
  sdkCache.set(moddable, drivers);
  return drivers;
}

export interface SimulatorScriptOptions {
  /** Specifiers the app's models give value models for. */
  valueDrivers?: readonly string[];
  /** A Moddable SDK checkout, for its JavaScript sensor drivers; $MODDABLE by default. */
  moddable?: string | undefined;
}

function simulatorModules(esm: string, options: SimulatorScriptOptions): Plugin {
  const values = new Set(options.valueDrivers ?? []);
  const moddable = options.moddable;
  return {
    name: "xsedge-simulator-modules",
    resolveId(source) {
      if (source === ENTRY || source.startsWith(VALUE_PREFIX)) return source;
      if (Object.hasOwn(SIMULATED_MODULES, source)) return SIMULATOR_HOST + SIMULATED_MODULES[source];
      const sdk = moddable && source.startsWith("embedded:sensor/") ? sdkSensorDrivers(moddable).get(source) : undefined;
      if (sdk && !sdk.native) return sdk.file;
      if (values.has(source)) return VALUE_PREFIX + source;
      if (source.startsWith("embedded:sensor/")) {
        const why = sdk?.native ? `the SDK's driver cannot run in the simulator: ${sdk.native}`
          : moddable ? `$MODDABLE (${moddable}) has no driver of that name` : "$MODDABLE is not set to an SDK checkout";
        this.error(`the simulator has no driver for "${source}": ${why}; give a value model for it in the app's simulator models (drivers: { "${source}": ... })`);
      }
      if (!source.startsWith(".") && !source.startsWith("/")) {
        this.error(`the simulator has no host module for "${source}" (it has ${Object.keys(SIMULATED_MODULES).join(", ")}); give a value model if it is a sensor driver`);
      }
      return null;
    },
    load(id) {
      if (id === ENTRY) return `import { install } from ${JSON.stringify(SIMULATOR_HOST + "runtime.js")};\nimport main from ${JSON.stringify(esm)};\ninstall(main);\n`;
      if (id.startsWith(VALUE_PREFIX)) {
        const specifier = id.slice(VALUE_PREFIX.length);
        return `import { valueSensor } from ${JSON.stringify(SIMULATOR_HOST + "value-sensor.js")};\nexport default valueSensor(${JSON.stringify(specifier)});\n`;
      }
      return null;
    },
  };
}

/** The rollup input options of the simulator's script of `esm` (the root build uses them too). */
export function simulatorScriptInput(esm: string, options: SimulatorScriptOptions = {}) {
  return { input: ENTRY, plugins: [noNodeBuiltins(), simulatorModules(esm, { moddable: process.env.MODDABLE, ...options }), stripSourceMapComments()] };
}

/** One script for xsnap-worker that runs the app of ES module `esm`. */
export async function simulatorScript(esm: string, options: SimulatorScriptOptions = {}): Promise<string> {
  const bundle = await rollup({ ...simulatorScriptInput(esm, options), onwarn: () => {} });
  try {
    const { output } = await bundle.generate({ format: "iife", sourcemap: false });
    return output[0].code;
  } finally {
    await bundle.close();
  }
}
