/*
 * Bundles the device application (already type-checked and compiled by tsc
 * into dist/modules) for XS, twice:
 *  - build/moddable/main.js: an ES module that manifest.json names, for
 *    mcconfig; Moddable module specifiers stay imports, resolved by the SDK.
 *  - build/sim/device.js: one script for xsnap-worker, in which the same
 *    specifiers resolve to the simulator's host modules (simulator/xs-host).
 * Either build fails if device code reaches for a Node built-in.
 * And the gateway's rule host (hosts/gateway/rules/xs), the script each
 * rules xsnap-worker evaluates: build/rules/rule-host.js.
 */
import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";
import { nodeResolve } from "@rollup/plugin-node-resolve";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const APP = here("./dist/modules/app/main.js");
const SIM_HOST = here("./dist/simulator/xs-host/");
const SIM_ENTRY = "\0xsedge-sim-entry";

/** Moddable module specifiers the device imports, and their simulator stand-ins. */
const MODDABLE_MODULES = {
  timer: "timer.js",
  time: "time.js",
  preference: "preference.js",
  flash: "flash.js",
  "mc/config": "config.js",
  "embedded:io/i2c": "i2c.js",
  "embedded:io/socket/tcp": "tcp.js",
  "embedded:provider/builtin": "builtin.js",
};

const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);

/** Fails the build on any import of a Node built-in: device code runs on XS, not Node. */
export function noNodeBuiltins() {
  return {
    name: "xsedge-no-node-builtins",
    resolveId(source, importer) {
      if (NODE_BUILTINS.has(source) || source.startsWith("node:")) {
        this.error(`device bundle may not import the Node built-in "${source}" (imported by ${importer ?? "the entry"})`);
      }
      return null;
    },
  };
}

/** XS follows a sourceMappingURL comment to the original file; none may point at a .ts source. */
export function stripSourceMapComments() {
  const comment = /^\s*\/\/[#@]\s*sourceMappingURL=.*$/gm;
  return {
    name: "xsedge-strip-source-map-comments",
    transform(code) {
      return comment.test(code) ? { code: code.replace(comment, ""), map: null } : null;
    },
    renderChunk(code) {
      return code.replace(comment, "");
    },
  };
}

function simulatorHostModules() {
  return {
    name: "xsedge-simulator-host-modules",
    resolveId(source) {
      if (source === SIM_ENTRY) return SIM_ENTRY;
      if (source in MODDABLE_MODULES) return SIM_HOST + MODDABLE_MODULES[source];
      if (source.startsWith("embedded:") || source.startsWith("mc/")) {
        this.error(`the simulator has no host module for "${source}"; add one in simulator/xs-host`);
      }
      return null;
    },
    load(id) {
      if (id !== SIM_ENTRY) return null;
      return `import { install } from ${JSON.stringify(SIM_HOST + "runtime.js")};\n`
        + `import main from ${JSON.stringify(APP)};\ninstall(main);\n`;
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

export default [
  {
    input: APP,
    external: (id) => id in MODDABLE_MODULES || id.startsWith("embedded:") || id.startsWith("mc/"),
    plugins: [noNodeBuiltins(), resolve(), stripSourceMapComments()],
    output: { file: "build/moddable/main.js", format: "es", sourcemap: false },
  },
  {
    input: SIM_ENTRY,
    plugins: [noNodeBuiltins(), simulatorHostModules(), resolve(), stripSourceMapComments()],
    output: { file: "build/sim/device.js", format: "iife", sourcemap: false },
  },
  ...desktopStandIns,
  {
    input: here("./dist/hosts/gateway/rules/xs/rule-host.js"),
    plugins: [noNodeBuiltins(), stripSourceMapComments()],
    output: { file: "build/rules/rule-host.js", format: "iife", sourcemap: false },
  },
];
