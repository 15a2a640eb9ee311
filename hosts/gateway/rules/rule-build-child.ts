/*
 * Builds rules, in a process of its own (rule-build.ts starts it and
 * keeps it while deploys come), so the type-check and the bundling never
 * run on the gateway's event loop: reads one {source, file} JSON per line
 * on stdin, writes one BuildResult JSON per line on stdout.
 *
 *  1. tsc type-checks the rule against xsedge/rules alone (lib es2022, no
 *     Node or DOM types: what a rule may use is what XS gives it) and emits
 *     JavaScript with a source map;
 *  2. rollup bundles it with the rule API's helpers into one ES module that
 *     imports nothing, keeping a source map back to the .ts (for the line
 *     of a fault), and without a sourceMappingURL comment (XS would follow
 *     it).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { rollup } from "@rollup/wasm-node";
import type { BuildDiagnostic, BuildRequest, BuildResult } from "./rule-build.js";

const RULES_API = fileURLToPath(new URL("../../../rules/index.js", import.meta.url));
const RULES_API_TYPES = fileURLToPath(new URL("../../../rules/index.d.ts", import.meta.url));
const RULES_SPECIFIER = "xsedge/rules";
/** Diagnostics reported at most: the first few say what is wrong. */
const MAX_DIAGNOSTICS = 50;

async function tscPath(): Promise<string> {
  const root = dirname(createRequire(import.meta.url).resolve("typescript/package.json"));
  // The native compiler itself, found as the package's own tsc script finds it (one process fewer than its bin script).
  const getExePath = (await import(pathToFileURL(join(root, "lib", "getExePath.js")).href)).default as () => string;
  return getExePath();
}

/** "rule.ts(3,5): error TS2322: Type ..." → a diagnostic. */
function parseDiagnostics(output: string, file: string): BuildDiagnostic[] {
  const found: BuildDiagnostic[] = [];
  for (const line of output.split("\n")) {
    const match = /^(.*?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line.trim());
    if (match) found.push({ file: match[1].endsWith(file) ? file : match[1], line: Number(match[2]), column: Number(match[3]), code: match[4], message: match[5] });
    else if (/error TS\d+/.test(line)) found.push({ file, line: 0, column: 0, code: "TS", message: line.trim() });
  }
  return found.slice(0, MAX_DIAGNOSTICS);
}

function typeCheck(dir: string, file: string, tsc: string): Promise<BuildDiagnostic[]> {
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      target: "es2022",
      module: "esnext",
      moduleResolution: "bundler",
      strict: true,
      lib: ["es2022"],
      types: [],
      sourceMap: true,
      noEmitOnError: true,
      skipLibCheck: true,
      rootDir: ".",
      outDir: "out",
      paths: { [RULES_SPECIFIER]: [RULES_API_TYPES] },
    },
    files: [file],
  }));
  return new Promise((resolve) => {
    execFile(tsc, ["-p", join(dir, "tsconfig.json"), "--pretty", "false"], { cwd: dir, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve([]);
      const diagnostics = parseDiagnostics(`${stdout}\n${stderr}`, file);
      resolve(diagnostics.length > 0 ? diagnostics : [{ file, line: 0, column: 0, code: "TS", message: `tsc failed: ${(stderr || stdout || error.message).trim().slice(0, 500)}` }]);
    });
  });
}

async function bundle(dir: string, file: string): Promise<{ code: string; map: string }> {
  const entry = join(dir, "out", file.replace(/\.ts$/, ".js"));
  const build = await rollup({
    input: entry,
    // What the author wrote runs: tree-shaking would drop code it judges without effect (an empty endless loop among it).
    treeshake: false,
    plugins: [{
      name: "xsedge-rule-imports",
      resolveId(source, importer) {
        if (importer === undefined) return source;
        if (source === RULES_SPECIFIER) return RULES_API;
        // The helpers' own type-only import of the records is erased; anything else is a second module.
        this.error(`a rule is one module and may import only "${RULES_SPECIFIER}", not "${source}"`);
      },
      load(id) {
        const code = readFileSync(id, "utf8").replace(/^\s*\/\/[#@]\s*sourceMappingURL=.*$/gm, "");
        let map: string | undefined;
        try {
          map = readFileSync(`${id}.map`, "utf8");
        } catch {
          map = undefined;
        }
        return { code, map };
      },
    }],
    onwarn() {},
  });
  const { output } = await build.generate({ format: "es", sourcemap: true, sourcemapExcludeSources: true });
  await build.close();
  const chunk = output[0];
  const map = chunk.map!;
  map.sources = map.sources.map((source) => (source.endsWith(file) ? file : source.replace(/^.*\//, "")));
  return { code: chunk.code.replace(/^\s*\/\/[#@]\s*sourceMappingURL=.*$/gm, ""), map: JSON.stringify({ version: 3, sources: map.sources, mappings: map.mappings }) };
}

async function build(request: BuildRequest): Promise<BuildResult> {
  const dir = mkdtempSync(join(tmpdir(), "xsedge-rule-build-"));
  try {
    writeFileSync(join(dir, request.file), request.source);
    const diagnostics = await typeCheck(dir, request.file, await tscPath());
    if (diagnostics.length > 0) return { ok: false, diagnostics };
    const { code, map } = await bundle(dir, request.file);
    return { ok: true, bundle: code, sourceMap: map };
  } catch (e) {
    return { ok: false, diagnostics: [{ file: request.file, line: 0, column: 0, code: "bundle", message: (e as Error).message.replace(dir + "/", "") }] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// One request per line on stdin, one result per line on stdout, in order: the process stays up between deploys.
let pending = "";
let queue: Promise<void> = Promise.resolve();
process.stdin.setEncoding("utf8").on("data", (text: string) => {
  pending += text;
  for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
    const line = pending.slice(0, end);
    pending = pending.slice(end + 1);
    queue = queue.then(async () => {
      const result = await build(JSON.parse(line) as BuildRequest);
      process.stdout.write(JSON.stringify(result) + "\n");
    });
  }
});
