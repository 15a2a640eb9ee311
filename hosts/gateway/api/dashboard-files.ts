/*
 * The dashboard's static files (hosts/gateway/dashboard/), served by name
 * from a fixed list: no path from a request ever reaches the file system.
 *
 * tsc copies only .ts, so from dist/ the folder is found in the sources;
 * both places are tried relative to this module, not to the working directory.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const DASHBOARD_FILES: Readonly<Record<string, { file: string; type: string }>> = Object.freeze({
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
});

/** Where the folder is from this module: beside it in the sources, or from dist/hosts/gateway/api/ back to the sources. */
const CANDIDATES = ["../dashboard/", "../../../../hosts/gateway/dashboard/"];

export function findDashboardDir(moduleUrl: string = import.meta.url): string {
  for (const candidate of CANDIDATES) {
    const dir = fileURLToPath(new URL(candidate, moduleUrl));
    if (existsSync(dir + "index.html")) return dir;
  }
  throw new Error(`dashboard files not found: looked for index.html in ${CANDIDATES.map((c) => fileURLToPath(new URL(c, moduleUrl))).join(" and ")}`);
}

export interface StaticFile {
  type: string;
  body: Buffer;
}

/** Reads every dashboard file once, so a missing one fails the gateway's start rather than a request. */
export function loadDashboard(dir: string = findDashboardDir()): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const [path, { file, type }] of Object.entries(DASHBOARD_FILES)) files.set(path, { type, body: readFileSync(dir + file) });
  return files;
}
