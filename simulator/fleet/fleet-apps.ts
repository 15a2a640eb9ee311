/*
 * The app bundles a fleet runs and the snapshot its workers start from.
 * An app bundle is one ES module of build/moddable/main.js's form: the app
 * and xsedge's device runtime, every Moddable specifier left as an import,
 * and a default export the host calls to start it. Each bundle is read once
 * and compiled once per worker (in the snapshot, for those known at start).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FrameReader, fromUtf8 } from "../xs-host/protocol.js";
import { Input, Output, RecordWriter, STEP, WORKER } from "../xs-fleet/fleet-protocol.js";
import { heapGrowthFor, writeFleetSnapshot } from "../engine/worker-snapshot.js";

/** The built-in app: what `npm run build` bundles from modules/app. */
export const DEFAULT_APP = fileURLToPath(new URL("../../../build/moddable/main.js", import.meta.url));
/** The fleet worker's runtime script (simulator/xs-fleet with the parts' models). */
export const FLEET_RUNTIME = fileURLToPath(new URL("../../../build/sim/fleet-runtime.js", import.meta.url));

function readBuilt(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`${what} ${path} is missing: run "npm run build" (${(error as Error).message})`);
  }
}

/** The modules an app links, as a device's boot names them: compiled ids by specifier, and the value stand-ins. */
export interface AppLinks {
  modules: Record<string, number>;
  values: readonly string[];
}

/** Every ES module the fleet compiles, each once: app bundles by path, and the modules they link. */
export class AppCatalog {
  readonly #ids = new Map<string, number>();
  readonly #sources: string[] = [];
  readonly #names: string[] = [];

  /** The id of the bundle at `path` (read now, once). */
  idOf(path: string = DEFAULT_APP): number {
    const absolute = resolve(path);
    let id = this.#ids.get(absolute);
    if (id === undefined) {
      const source = readBuilt(absolute, "app bundle");
      if (!/\bexport\s*(default\b|\{[^}]*\bas\s+default\b)/.test(source)) throw new Error(`app bundle ${absolute} has no default export (the function the simulator calls to start the app)`);
      id = this.#sources.push(source) - 1;
      this.#names.push(absolute);
      this.#ids.set(absolute, id);
    }
    return id;
  }

  /** The id of a module an app links under `specifier`, by its source. */
  moduleId(specifier: string, source: string): number {
    const key = `\0${specifier}\0${source}`;
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#sources.push(source) - 1;
      this.#names.push(`module "${specifier}"`);
      this.#ids.set(key, id);
    }
    return id;
  }

  /** The ids of what a device's app links. */
  linksOf(modules: Readonly<Record<string, string>> | undefined, values: readonly string[] | undefined): AppLinks {
    const ids: Record<string, number> = {};
    for (const [specifier, source] of Object.entries(modules ?? {})) ids[specifier] = this.moduleId(specifier, source);
    return { modules: ids, values: values ?? [] };
  }

  source(id: number): string {
    return this.#sources[id];
  }

  pathOf(id: number): string {
    return this.#names[id] ?? `app ${id}`;
  }

  get size(): number {
    return this.#sources.length;
  }
}

/** A step that compiles every bundle of the catalog, as a frame for the worker. */
function compileStep(apps: AppCatalog): Uint8Array {
  const frame = new RecordWriter(256 * 1024, 256 * 1024 * 1024).u8(STEP).u8(0).f64(0);
  for (let id = 0; id < apps.size; id++) frame.record(Input.COMPILE, 0, 0).u16(id).text(apps.source(id));
  return frame.view8().slice();
}

/** The errors a compile step's reply reports, by bundle. */
function compileErrors(reply: Uint8Array, apps: AppCatalog): string[] {
  const reader = new FrameReader(reply);
  reader.f64();
  reader.f64();
  const errors: string[] = [];
  while (reader.remaining > 0) {
    const kind = reader.u8();
    const device = reader.u32();
    reader.f64();
    const app = kind === Output.COMPILED ? reader.u16() : -1;
    const text = fromUtf8(reader.bytes(reader.u32()));
    if (kind === Output.COMPILED && text) errors.push(`${apps.pathOf(app).startsWith("module ") ? "" : "app bundle "}${apps.pathOf(app)} does not compile in XS: ${text}`);
    else if (device === WORKER && kind === Output.UNCAUGHT) errors.push(`fleet runtime: ${text}`);
  }
  return errors;
}

/** Writes the workers' snapshot: the runtime installed and every bundle known so far compiled. */
export async function prepareSnapshot(path: string, apps: AppCatalog, devicesPerWorker: number): Promise<void> {
  const runtime = readBuilt(FLEET_RUNTIME, "fleet runtime");
  await writeFleetSnapshot(path, heapGrowthFor(devicesPerWorker), async (template) => {
    await template.evaluate(runtime);
    const { reply } = await template.command(compileStep(apps));
    const errors = compileErrors(reply, apps);
    if (errors.length > 0) throw new Error(errors.join("\n"));
  });
}
