/*
 * A device app's project (an example, or the template) in a directory of its
 * own outside the repository, with its dependencies as `npm install` would
 * give them: this repository as `xsedge`, and the TypeScript and Moddable
 * typings it was built with. (The real `npm install` of a packed xsedge is
 * tests/system/pack.test.ts's.)
 */
import { cpSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./test-helpers.js";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));

export function projectCopy(source: string, prefix: string): { path: string; remove(): void } {
  const dir = tempDir(prefix);
  cpSync(source, dir.path, { recursive: true, filter: (path) => !/[/\\](node_modules|build)$/.test(path) });
  const modules = join(dir.path, "node_modules");
  mkdirSync(join(modules, "@moddable"), { recursive: true });
  symlinkSync(REPO, join(modules, "xsedge"), "dir");
  symlinkSync(join(REPO, "node_modules", "typescript"), join(modules, "typescript"), "dir");
  symlinkSync(join(REPO, "node_modules", "@moddable", "typings"), join(modules, "@moddable", "typings"), "dir");
  return dir;
}
