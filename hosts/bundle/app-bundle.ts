/*
 * A device app's bundle for mcconfig: the app's main module (compiled by
 * tsc) and everything it imports from npm packages (xsedge's runtime among
 * them) rolled into one ES module, every Moddable module left as an import
 * for the SDK, and `export default` the function the host calls to start the
 * app. The same file is what the simulator runs (simulator/app/sim-modules.ts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { nodeResolve } from "@rollup/plugin-node-resolve";
import { rollup, type InputOptions, type Plugin } from "@rollup/wasm-node";
import { moddableModulesExternal, noNodeBuiltins, stripSourceMapComments, xsedgeModules } from "./device-plugins.js";

/** The rollup input options of an app's bundle (the root build uses them for the built-in app). */
export function appBundleInput(entry: string): InputOptions {
  return {
    input: entry,
    plugins: [
      noNodeBuiltins(),
      xsedgeModules(),
      moddableModulesExternal(),
      nodeResolve({ browser: false, exportConditions: ["default", "module", "import"], preferBuiltins: false }) as unknown as Plugin,
      stripSourceMapComments(),
    ],
  };
}

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BundleError";
  }
}

/** Bundles `entry` into `output`; returns the bundle's size in bytes. BundleError says what is wrong. */
export async function bundleApp(entry: string, output: string): Promise<number> {
  let code: string;
  try {
    const bundle = await rollup({ ...appBundleInput(entry), onwarn: () => {} });
    try {
      ({ output: [{ code }] } = await bundle.generate({ format: "es", sourcemap: false }));
    } finally {
      await bundle.close();
    }
  } catch (e) {
    throw new BundleError(`bundling ${entry}: ${(e as Error).message}`);
  }
  if (!/^export \{[^}]*\bas default\b[^}]*\};?$|^export default /m.test(code)) {
    throw new BundleError(`${entry} has no default export: a device app's main module exports default device(...)`);
  }
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, code);
  return Buffer.byteLength(code);
}
