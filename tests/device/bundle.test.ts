/*
 * The device bundles npm run build made, checked as XS will see them, and
 * the build's guard against Node built-ins in device code.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { rollup } from "@rollup/wasm-node";

const root = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
// @ts-expect-error rollup.config.js is plain JavaScript with no declarations.
const { noNodeBuiltins, stripSourceMapComments } = (await import("../../../rollup.config.js")) as Record<string, () => object>;

const MODDABLE_SPECIFIERS = new Set(["timer", "time", "flash", "preference", "mc/config", "embedded:io/socket/tcp", "embedded:provider/builtin"]);

test("the mcconfig module imports only Moddable modules and carries no source map comment", () => {
  const code = readFileSync(root("build/moddable/main.js"), "utf8");
  const imports = [...code.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
  assert.ok(imports.length > 0);
  for (const specifier of imports) assert.ok(MODDABLE_SPECIFIERS.has(specifier), `unexpected import "${specifier}"`);
  assert.not.match(code, /sourceMappingURL/);
  assert.not.match(code, /\bmult10\b|\bdecodeIter\b/, "cbor-x (which cannot load on Moddable's XS) is not in the device bundle");
});

test("the simulator script is one self-contained script", () => {
  const code = readFileSync(root("build/sim/device.js"), "utf8");
  assert.not.match(code, /^\s*import\s/m);
  assert.not.match(code, /\brequire\(/);
  assert.not.match(code, /sourceMappingURL/);
});

test("device code that imports a Node built-in fails the build, naming the import", async () => {
  const source = 'import { readFileSync } from "node:fs";\nexport default () => readFileSync("x");\n';
  const virtual = { name: "virtual", resolveId: (id: string) => (id === "entry" ? id : null), load: (id: string) => (id === "entry" ? source : null) };
  try {
    await rollup({ input: "entry", plugins: [noNodeBuiltins(), virtual] as never });
    assert.unreachable("the build accepted node:fs");
  } catch (e) {
    assert.match((e as Error).message, /may not import the Node built-in "node:fs"/);
  }
});

test("a source map comment is stripped from device code", async () => {
  const source = "export const x = 1;\n//# sourceMappingURL=main.ts.map\n";
  const virtual = { name: "virtual", resolveId: (id: string) => (id === "entry" ? id : null), load: (id: string) => (id === "entry" ? source : null) };
  const bundle = await rollup({ input: "entry", plugins: [stripSourceMapComments(), virtual] as never });
  const { output } = await bundle.generate({ format: "es" });
  assert.not.match(output[0].code, /sourceMappingURL/);
});

test.run();
