/*
 * The install stays reproducible under npm's install-script policy: every
 * package the lock file says has an install script (the XS engine of
 * @agoric/xsnap, better-sqlite3, ...) is approved in package.json's
 * allowScripts, as `npm approve-scripts` writes it (npm 11 warns about the
 * rest; npm 12 skips them, and with them the engine and the database).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

test("every package with an install script in package-lock.json is approved in allowScripts, and none is denied", () => {
  const pkg = JSON.parse(readFileSync(root("package.json"), "utf8")) as { allowScripts?: Record<string, boolean> };
  const lock = JSON.parse(readFileSync(root("package-lock.json"), "utf8")) as { packages: Record<string, { version?: string; hasInstallScript?: boolean; name?: string }> };
  const allow = pkg.allowScripts ?? {};
  const withScripts = Object.entries(lock.packages)
    .filter(([path, entry]) => path !== "" && entry.hasInstallScript)
    .map(([path, entry]) => ({ name: entry.name ?? path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length), version: entry.version }));
  assert.ok(withScripts.some((p) => p.name === "@agoric/xsnap") && withScripts.some((p) => p.name === "better-sqlite3"), "the lock file lists the native parts");
  for (const { name, version } of withScripts) {
    const approved = allow[name] === true || allow[`${name}@${version}`] === true;
    assert.ok(approved, `${name}@${version} runs an install script but allowScripts does not approve it (npm approve-scripts ${name})`);
    assert.is.not(allow[name], false, `${name} is denied`);
  }
});

test.run();
