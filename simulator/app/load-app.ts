/*
 * A device app's project, as `xsedge bundle`, `xsedge sim --app` and
 * `xsedge up --app` see it: where its compiled main module, its bundle and
 * its simulator models are (package.json "xsedge", with defaults), how it is
 * built (the project's tsc, then the bundle), and the app loaded for the
 * simulator: its script and its models.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { bundleApp } from "../../hosts/bundle/app-bundle.js";
import type { SimulatorModels } from "./models.js";
import { simulatorScript } from "./sim-modules.js";

export const PROJECT_DEFAULTS = Object.freeze({
  main: "build/js/src/main.js",
  bundle: "build/moddable/main.js",
  models: "build/js/sim/models.js",
});

export interface AppProject {
  dir: string;
  name: string;
  /** The app's main module as tsc emits it. */
  main: string;
  /** The ES module bundle: what mcconfig builds for a board and the simulator runs. */
  bundle: string;
  /** The simulator models module, when the project has one. */
  models: string | undefined;
}

export class ProjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProjectError";
  }
}

export function readProject(dir: string): AppProject {
  const root = resolve(dir);
  const packageFile = join(root, "package.json");
  if (!existsSync(packageFile)) throw new ProjectError(`${root} has no package.json: is it an xsedge app's project (xsedge new)?`);
  let pkg: { name?: unknown; xsedge?: Partial<Record<keyof typeof PROJECT_DEFAULTS, unknown>> };
  try {
    pkg = JSON.parse(readFileSync(packageFile, "utf8")) as typeof pkg;
  } catch (e) {
    throw new ProjectError(`${packageFile}: ${(e as Error).message}`);
  }
  const path = (key: keyof typeof PROJECT_DEFAULTS) => {
    const value = pkg.xsedge?.[key] ?? PROJECT_DEFAULTS[key];
    if (typeof value !== "string" || value === "") throw new ProjectError(`${packageFile}: "xsedge.${key}" must be a path`);
    return join(root, value);
  };
  const models = path("models");
  return { dir: root, name: typeof pkg.name === "string" ? pkg.name : root, main: path("main"), bundle: path("bundle"), models: existsSync(models) || pkg.xsedge?.models ? models : undefined };
}

/** The project's own TypeScript compiler (its package's `bin`), else the one xsedge was built with. */
function tscOf(project: AppProject): string {
  for (const from of [join(project.dir, "package.json"), import.meta.url]) {
    try {
      const manifest = createRequire(from).resolve("typescript/package.json");
      const bin = (JSON.parse(readFileSync(manifest, "utf8")) as { bin?: { tsc?: string } }).bin?.tsc;
      if (bin) return join(manifest, "..", bin);
    } catch {
      // not there; next
    }
  }
  throw new ProjectError("no TypeScript compiler: npm install typescript in the project");
}

/** Type-checks and compiles the project (its tsconfig.json), then bundles its main module. */
export async function buildProject(project: AppProject): Promise<number> {
  try {
    execFileSync(process.execPath, [tscOf(project), "-p", project.dir], { cwd: project.dir, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const out = e as { stdout?: Buffer; stderr?: Buffer };
    throw new ProjectError(`tsc -p ${project.dir} failed:\n${String(out.stdout ?? "")}${String(out.stderr ?? "")}`.trim());
  }
  if (!existsSync(project.main)) throw new ProjectError(`tsc did not write ${project.main}: set "xsedge.main" in package.json to the app's compiled main module`);
  return bundleApp(project.main, project.bundle);
}

export interface LoadedApp {
  project: AppProject;
  /** The simulator's script of the app. */
  script: string;
  models: SimulatorModels;
}

export async function loadApp(dir: string, options: { build?: boolean; moddable?: string } = {}): Promise<LoadedApp> {
  const project = readProject(dir);
  if (options.build !== false) await buildProject(project);
  if (!existsSync(project.bundle)) throw new ProjectError(`${project.bundle} is missing: build the app (npm run build in ${project.dir})`);
  let models: SimulatorModels = {};
  if (project.models) {
    if (!existsSync(project.models)) throw new ProjectError(`simulator models ${project.models} are missing: build the app`);
    const loaded = (await import(pathToFileURL(project.models).href)) as { default?: SimulatorModels };
    if (!loaded.default || typeof loaded.default !== "object") throw new ProjectError(`${project.models} has no default export of simulator models`);
    models = loaded.default;
  }
  const script = await simulatorScript(project.bundle, {
    valueDrivers: Object.keys(models.drivers ?? {}),
    ...(options.moddable === undefined ? {} : { moddable: options.moddable }),
  });
  return { project, script, models };
}
