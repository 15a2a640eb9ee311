/*
 * The README's `npm test` brings what the tests run beside Node: every
 * program a test spawns is looked up in tests/support/peer-programs.ts,
 * whose Debian packages npm test's set-up installs; a machine without one
 * gets one line naming the package and the command that installs it, from
 * the set-up and from a test that needs it (no TypeError from a cleanup).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { installCommand, PEER_PROGRAMS } from "../support/peer-programs.js";
import { tempDir } from "../support/test-helpers.js";

const root = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

function sources(dir: string): string[] {
  return (readdirSync(root(dir), { recursive: true, encoding: "utf8" }) as string[]).filter((f) => f.endsWith(".ts")).map((f) => join(root(dir), f));
}

/** The child_process calls that start a program by name or path. */
const SPAWNING = /\b(spawn|spawnSync|execFile|execFileSync)\(\s*([^,)]+)/g;
/** The set-up itself runs apt-get, sudo and env to install the peers; this file holds the patterns. */
const EXEMPT = new Set(["tests/setup-peers.ts", "tests/system/peer-programs.test.ts"]);

test("every program a test spawns comes from the peer list, and npm test's set-up installs that list", () => {
  const known = new Set(PEER_PROGRAMS.map((p) => p.name));
  const problems: string[] = [];
  let calls = 0;
  for (const file of [...sources("tests"), ...sources("bench")]) {
    const where = relative(root(""), file);
    if (EXEMPT.has(where)) continue;
    const text = readFileSync(file, "utf8");
    // Names given to peerProgram() must be on the list (it says so at run time too).
    for (const [, name] of text.matchAll(/peerProgram\("([^"]+)"\)/g)) if (!known.has(name)) problems.push(`${where}: peerProgram("${name}") is not in the peer list`);
    // A Chromium the browser library is pointed at.
    for (const [, path] of text.matchAll(/executablePath:\s*([^,}]+)/g)) if (!/peerProgram\("/.test(path)) problems.push(`${where}: executablePath ${path.trim()}`);
    // A shell command line would hide its programs from this check.
    if (/import\s*\{[^}]*\bexec(Sync)?\b[^}]*\}\s*from\s*"node:child_process"/.test(text)) problems.push(`${where}: imports exec/execSync (a shell command line); use execFile with peerProgram()`);
    for (const match of text.matchAll(SPAWNING)) {
      const program = match[2].trim();
      calls++;
      const name = program.replace(/[^\w$]/g, "");
      const fromList = /^peerProgram\("/.test(program) || new RegExp(`\\b${name}\\s*=\\s*peerProgram\\(`).test(text);
      if (program !== "process.execPath" && !fromList) problems.push(`${where}: ${match[1]}(${program}, ...) runs a program that is not looked up in the peer list`);
    }
  }
  assert.ok(calls >= 10, `${calls} process launches found`);
  assert.equal(problems, []);
  const pkg = JSON.parse(readFileSync(root("package.json"), "utf8")) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.test, /node dist\/tests\/setup-peers\.js && node dist\/tests\/run-all\.js$/, "npm test sets up before it runs");
  assert.match(readFileSync(root(".ci/run"), "utf8"), /^npm test$/m, "CI runs the README's command, set-up included");
  assert.is(installCommand(["mosquitto", "mosquitto", "prometheus"]), "sudo apt-get install -y --no-install-recommends mosquitto prometheus");
});

test("on a machine without them (PATH without the programs): the set-up fails with one line naming the packages and the command; a test that needs mosquitto fails with one line, no TypeError", () => {
  const empty = tempDir("no-programs");
  const env = { ...process.env, PATH: empty.path };
  const setup = spawnSync(process.execPath, [root("dist/tests/setup-peers.js")], { env, encoding: "utf8" });
  assert.is(setup.status, 1);
  const packages = [...new Set(PEER_PROGRAMS.map((p) => p.debianPackage))];
  assert.is(setup.stdout, "", "nothing installed: there is no apt-get on this PATH");
  assert.is(setup.stderr, `the tests need ${PEER_PROGRAMS.map((p) => p.name).join(", ")} (Debian packages ${packages.join(" ")}): ${installCommand(packages)}\n`);

  const broker = spawnSync(process.execPath, [root("dist/tests/gateway/ingest/external-broker.test.js")], { env: { ...env, FORCE_COLOR: "0" }, encoding: "utf8", timeout: 60_000 });
  const output = broker.stdout + broker.stderr;
  assert.is(broker.status, 1, output);
  assert.ok(output.includes("mosquitto_passwd is not installed (Debian package mosquitto, for the external-broker tests): sudo apt-get install -y --no-install-recommends mosquitto"), output);
  assert.not.ok(/TypeError/.test(output), output);
  empty.remove();
});

test.run();
