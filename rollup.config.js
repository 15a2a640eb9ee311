/*
 * Bundles the built-in device app (already type-checked and compiled by tsc
 * into dist/modules) for XS, the way any app is bundled (hosts/bundle,
 * simulator/app/sim-modules.ts; `xsedge bundle` does the same for a user's
 * project):
 *  - build/moddable/main.js: an ES module that manifest.json names, for
 *    mcconfig; Moddable module specifiers stay imports, resolved by the SDK;
 *    its default export is the function the host calls to start the app.
 *    The simulator's fleet runs this very file: each device's Compartment
 *    resolves the same specifiers to that device's host modules.
 *  - build/sim/device.js: that module again as one script for
 *    xsnap-worker, its specifiers resolved to the simulator's host modules:
 *    the one-worker-per-device engine, kept as the benchmark's baseline.
 * And the fleet worker's runtime, build/sim/fleet-runtime.js: one script
 * with simulator/xs-fleet, the register models of the parts
 * (simulator/sensors) and the NOR flash model (simulator/storage), which
 * run inside XS beside each device's app.
 * Every build fails if its code reaches for a Node built-in.
 * And the gateway's rule host (hosts/gateway/rules/xs), the script each
 * rules xsnap-worker evaluates: build/rules/rule-host.js.
 */
import { fileURLToPath } from "node:url";
import { nodeResolve } from "@rollup/plugin-node-resolve";
import { appBundleInput } from "./dist/hosts/bundle/app-bundle.js";
import { noNodeBuiltins, stripSourceMapComments } from "./dist/hosts/bundle/device-plugins.js";
import { simulatorScriptInput } from "./dist/simulator/app/sim-modules.js";

export { noNodeBuiltins, stripSourceMapComments };

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const APP = here("./dist/modules/app/main.js");
const APP_ESM = here("./build/moddable/main.js");
const FLEET_ENTRY = "\0xsedge-fleet-entry";

/** The fleet worker's script: its runtime, handed the builder of the parts' models and the NOR model of its chips. */
function fleetRuntimeEntry() {
  return {
    name: "xsedge-fleet-runtime-entry",
    resolveId: (source) => (source === FLEET_ENTRY ? FLEET_ENTRY : null),
    load(id) {
      if (id !== FLEET_ENTRY) return null;
      return `import { install } from ${JSON.stringify(here("./dist/simulator/xs-fleet/fleet-runtime.js"))};\n`
        + `import { buildParts } from ${JSON.stringify(here("./dist/simulator/sensors/part-builder.js"))};\n`
        + `import { NorFlash } from ${JSON.stringify(here("./dist/simulator/storage/nor-flash.js"))};\n`
        + `install({ buildParts, createChip: (geometry, bytes, wear) => {\n`
        + `  const chip = new NorFlash(geometry, bytes);\n  chip.eraseCounts.set(wear);\n  return chip;\n} });\n`;
    },
  };
}

const resolve = () => nodeResolve({ browser: false, exportConditions: ["default", "module", "import"], preferBuiltins: false });

// ---- BEGIN desktop simulator stand-ins (hosts/desktop; owner: board manifests) ----
// mcsim (mcconfig -p lin|mac|win) has no I2C, host provider or flash module;
// hosts/desktop/manifest.json lists these bundles in their place. Each bundles
// what it imports from dist (the TMP117 model is the Node simulator's own), and
// leaves the SDK's modules ("file", "mc/config") to mcconfig.
const DESKTOP_SDK_MODULES = new Set(["file", "mc/config"]);
const desktopStandIns = ["builtin", "flash"].map((name) => ({
  input: here(`./dist/hosts/desktop/${name}.js`),
  external: (id) => DESKTOP_SDK_MODULES.has(id),
  plugins: [noNodeBuiltins(), resolve(), stripSourceMapComments()],
  output: { file: `build/moddable/desktop/${name}.js`, format: "es", sourcemap: false },
}));
// ---- END desktop simulator stand-ins ----

// Built in this order: the simulator's script is made from the ES module.
export default [
  { ...appBundleInput(APP), output: { file: APP_ESM, format: "es", sourcemap: false } },
  // The built-in app imports no sensor driver by specifier, so $MODDABLE plays no part in its script.
  { ...simulatorScriptInput(APP_ESM, { moddable: undefined }), output: { file: "build/sim/device.js", format: "iife", sourcemap: false } },
  {
    input: FLEET_ENTRY,
    plugins: [noNodeBuiltins(), fleetRuntimeEntry(), resolve(), stripSourceMapComments()],
    output: { file: "build/sim/fleet-runtime.js", format: "iife", sourcemap: false },
  },
  ...desktopStandIns,
  {
    input: here("./dist/hosts/gateway/rules/xs/rule-host.js"),
    plugins: [noNodeBuiltins(), stripSourceMapComments()],
    output: { file: "build/rules/rule-host.js", format: "iife", sourcemap: false },
  },
];
