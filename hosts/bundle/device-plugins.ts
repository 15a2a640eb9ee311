/*
 * Rollup plugins for device bundles: what makes a bundle fit for XS.
 * Device code may not reach for Node; XS follows sourceMappingURL comments
 * (none may point at a .ts); a Moddable module specifier stays an import for
 * mcconfig to resolve, or, in the simulator's script, becomes the
 * simulator's host module; and `xsedge/device` resolves to this xsedge's
 * runtime when the app's own node_modules does not hold one.
 */
import { builtinModules, createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Plugin } from "@rollup/wasm-node";

const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);

/** This xsedge's own public device modules (package.json "exports"), for an app built without an xsedge in its node_modules. */
function ownModule(source: string): string | undefined {
  if (source === "xsedge/device") return fileURLToPath(new URL("../../modules/device/index.js", import.meta.url));
  const sensor = /^xsedge\/sensors\/([a-z0-9-]+)$/.exec(source);
  return sensor ? fileURLToPath(new URL(`../../modules/sensors/${sensor[1]}.js`, import.meta.url)) : undefined;
}

/** The simulator's host modules (simulator/xs-host), by the Moddable specifier they stand in for. */
export const SIMULATOR_HOST = fileURLToPath(new URL("../../simulator/xs-host/", import.meta.url));
export const SIMULATED_MODULES: Readonly<Record<string, string>> = Object.freeze({
  timer: "timer.js",
  time: "time.js",
  preference: "preference.js",
  flash: "flash.js",
  "mc/config": "config.js",
  "embedded:io/i2c": "i2c.js",
  "embedded:io/smbus": "smbus.js",
  "embedded:io/socket/tcp": "tcp.js",
  "embedded:provider/builtin": "builtin.js",
  // The SDK's CRC module is native on a board; its JavaScript twin lets the SDK's drivers that use it run here.
  crc: "crc.js",
});

/** Fails the build on any import of a Node built-in: device code runs on XS, not Node. */
export function noNodeBuiltins(): Plugin {
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
export function stripSourceMapComments(): Plugin {
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

const isBare = (source: string) => !source.startsWith(".") && !source.startsWith("/") && !source.startsWith("\0");

/**
 * `xsedge/...` from the app's own node_modules when it has xsedge there
 * (an app made with `xsedge new`), else this xsedge's runtime.
 */
export function xsedgeModules(): Plugin {
  return {
    name: "xsedge-own-modules",
    resolveId(source, importer) {
      const own = ownModule(source);
      if (!own) return null;
      if (importer) {
        try {
          return createRequire(importer).resolve(source);
        } catch {
          // not installed beside the app: fall back to ours
        }
      }
      return own;
    },
  };
}

/**
 * For mcconfig: a bare specifier that no package provides is a Moddable
 * module (`timer`, `embedded:sensor/...`, `pins/digital`, ...) and stays an
 * import, for the SDK to resolve on the board.
 */
export function moddableModulesExternal(): Plugin {
  return {
    name: "xsedge-moddable-modules",
    async resolveId(source, importer, options) {
      if (!isBare(source) || source.startsWith("xsedge/")) return null;
      if (source.startsWith("embedded:") || source.startsWith("mc/") || Object.hasOwn(SIMULATED_MODULES, source)) return { id: source, external: true };
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      return resolved ?? { id: source, external: true };
    },
  };
}
