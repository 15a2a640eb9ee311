/*
 * `xsedge bundle`: a device app's bundle, after its tsc: the project's
 * compiled main module and the xsedge runtime rolled into the one ES module
 * its manifest lists (build/moddable/main.js), for mcconfig and for the
 * simulator alike.
 */
import { resolve } from "node:path";
import { BundleError, bundleApp } from "../bundle/app-bundle.js";
import { ProjectError, readProject } from "../../simulator/app/load-app.js";
import { parseFlags, parseOrReport, processIo, stringFlag, type CommandIo } from "./command.js";

export const BUNDLE_USAGE = `Usage: xsedge bundle [options]     (a project's "npm run build" runs it after tsc)

Bundles the device app of the project in the current directory (or --app):
its compiled main module (package.json "xsedge.main", build/js/src/main.js by
default) and the xsedge runtime into one ES module ("xsedge.bundle",
build/moddable/main.js), every Moddable module left an import.

Options:
  --app <dir>    the project (default: the current directory)
  -h, --help     show this help
`;

export async function bundleCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  const options = parseOrReport("bundle", io, () => {
    const values = parseFlags(argv, { app: { type: "string" }, help: { type: "boolean", short: "h" } });
    return { help: values.help === true, dir: resolve(stringFlag(values, "app") ?? ".") };
  });
  if (typeof options === "number") return options;
  if (options.help) {
    io.out(BUNDLE_USAGE);
    return 0;
  }
  try {
    const project = readProject(options.dir);
    const bytes = await bundleApp(project.main, project.bundle);
    io.out(`${project.bundle}: ${bytes} bytes\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof ProjectError || e instanceof BundleError)) throw e;
    io.err(`xsedge bundle: ${e.message}\n`);
    return 1;
  }
}
