/*
 * The device bundles' sizes, built again in the bench with the project's
 * own rollup configuration: build/moddable/main.js (what mcconfig compiles
 * for a board) and build/sim/device.js (what xsnap-worker evaluates in the
 * simulator). Baseline: the same modules as tsc emitted them, before
 * bundling, so the ratio is what bundling (and tree-shaking) keeps.
 */
import { rollup, type OutputOptions, type RollupOptions } from "@rollup/wasm-node";
import { fileURLToPath, pathToFileURL } from "node:url";
import { relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The bundles worth a figure: the first two of rollup.config.js's list. */
const BUNDLES = ["build/moddable/main.js", "build/sim/device.js"];

export interface BundleFigure {
  file: string;
  bytes: number;
  gzipBytes: number;
  modules: number;
  /** The bundled modules' sizes as tsc emitted them: the baseline. */
  sourceBytes: number;
  ratio: number;
  /** The largest modules in the bundle, by bytes kept. */
  largest: Array<{ module: string; bytes: number }>;
}

export async function bundleFigures(): Promise<BundleFigure[]> {
  const configs = (await import(pathToFileURL(`${ROOT}rollup.config.js`).href)).default as RollupOptions[];
  const figures: BundleFigure[] = [];
  for (const file of BUNDLES) {
    // The config may name its output relative to the root or absolutely.
    const config = configs.find((c) => {
      const output = (c.output as OutputOptions | undefined)?.file;
      return output !== undefined && resolve(ROOT, output) === resolve(ROOT, file);
    });
    if (!config) throw new Error(`rollup.config.js builds no ${file}`);
    const bundle = await rollup({ ...config, onwarn: () => {} });
    try {
      const { output } = await bundle.generate(config.output as OutputOptions);
      const chunk = output[0];
      const modules = Object.entries(chunk.modules);
      const sourceBytes = modules.reduce((n, [, m]) => n + m.originalLength, 0);
      const bytes = Buffer.byteLength(chunk.code);
      figures.push({
        file,
        bytes,
        gzipBytes: gzipSync(chunk.code).byteLength,
        modules: modules.length,
        sourceBytes,
        ratio: bytes / sourceBytes,
        largest: modules
          .map(([id, m]) => ({ module: id.startsWith("\0") ? id.slice(1) : relative(ROOT, id), bytes: m.renderedLength }))
          .sort((a, b) => b.bytes - a.bytes)
          .slice(0, 5),
      });
    } finally {
      await bundle.close();
    }
  }
  return figures;
}
