/*
 * `xsedge new <dir>`: writes a firmware project that depends on xsedge, from
 * the template in templates/app/: package.json, a manifest.json that
 * includes xsedge's runtime manifest, src/main.ts (one sensor, one event),
 * sim/models.ts (its simulated part), a tsconfig.json with the Moddable
 * typings, and a README. `npm install && npm run build` in it type-checks and
 * bundles; `npx xsedge up --app .` runs it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseOrReport, processIo, UsageError, type CommandIo } from "./command.js";
import { parseArgs } from "node:util";

export const TEMPLATE = fileURLToPath(new URL("../../../templates/app/", import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL("../../../package.json", import.meta.url));

export const NEW_USAGE = `Usage: xsedge new <dir> [options]

Writes a device app's project into <dir> (which must be new or empty): an app
on the xsedge runtime with one sensor and one event, its simulated part, its
Moddable manifest and its build. Then:

  cd <dir> && npm install && npm run build
  npx xsedge up --app .        # run it on XS with a gateway and a cloud

Options:
  --name <name>      the package name (default: the directory's name)
  --xsedge <spec>    the xsedge dependency (default: ^<this xsedge's version>;
                     a path or a tarball works too)
  -h, --help         show this help
`;

/** npm package names: lower case, and what a sensor id may hold too (the template names its device after it). */
const NAME = /^[a-z0-9][a-z0-9._-]{0,49}$/;

function parse(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { name: { type: "string" }, xsedge: { type: "string" }, help: { type: "boolean", short: "h" } } });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true as const };
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "give the directory to write the project into" : `one directory, got ${positionals.length}`);
  const dir = resolve(positionals[0]);
  const name = values.name ?? basename(dir).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "");
  if (!NAME.test(name)) throw new UsageError(`--name must be 1 to 50 of a-z 0-9 . _ - (an npm package name), got "${name}"`);
  const version = (JSON.parse(readFileSync(PACKAGE_JSON, "utf8")) as { version: string }).version;
  return { help: false as const, dir, name, xsedge: values.xsedge ?? `^${version}` };
}

function templateFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => statSync(join(dir, f)).isFile()).sort();
}

/** Writes the project; returns the files written, relative to `dir`. */
export function writeProject(dir: string, values: { name: string; xsedge: string }): string[] {
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new UsageError(`${dir} is not empty; give a new directory`);
  const files = templateFiles(TEMPLATE);
  for (const file of files) {
    const text = readFileSync(join(TEMPLATE, file), "utf8").replaceAll("{{name}}", values.name).replaceAll("{{xsedge}}", values.xsedge);
    const target = join(dir, file);
    mkdirSync(join(target, ".."), { recursive: true });
    writeFileSync(target, text);
  }
  // npm leaves a .gitignore out of a package, so the template cannot carry one.
  writeFileSync(join(dir, ".gitignore"), "node_modules/\nbuild/\n");
  return [...files, ".gitignore"];
}

export async function newCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  const options = parseOrReport("new", io, () => parse(argv));
  if (typeof options === "number") return options;
  if (options.help) {
    io.out(NEW_USAGE);
    return 0;
  }
  let files: string[];
  try {
    files = writeProject(options.dir, options);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`xsedge new: ${e.message}\n`);
    return 2;
  }
  const where = relative(process.cwd(), options.dir) || ".";
  io.out(`wrote ${files.length} files of ${options.name} into ${options.dir}:\n${files.map((f) => `  ${f}\n`).join("")}`);
  io.out(`next:\n  cd ${where} && npm install && npm run build\n  npx xsedge up --app .\n`);
  return 0;
}
