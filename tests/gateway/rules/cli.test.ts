/*
 * `xsedge rules` against a gateway's local API: the command's function with
 * its output captured (as xsedge calls it), and the real binary in a
 * process of its own for the wiring (starting it costs seconds here, so
 * only a few runs do).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { rulesCommand } from "../../../hosts/gateway/rules/cli.js";
import { exampleSource, startRulesGateway } from "../../support/rules-gateway.js";
import { tempDir } from "../../support/test-helpers.js";

const XSEDGE = fileURLToPath(new URL("../../../hosts/cli/xsedge.js", import.meta.url));

/** `xsedge rules <args>` in this process, its output captured. */
async function rules(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await rulesCommand(args, { out: (text) => (out += text), err: (text) => (err += text) }, { ...process.env, ...env });
  return { code, out, err };
}

/** The real `xsedge rules <args>`, in a process of its own. */
function xsedge(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [XSEDGE, "rules", ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, out, err });
    });
  });
}

test("deploy, list, show, disable, enable, rollback: what an operator types, and what it prints", async () => {
  const dir = tempDir("rules-cli");
  const t = await startRulesGateway(["freezer-1"]);
  try {
    const file = join(dir.path, "freezer-alarm.ts");
    writeFileSync(file, exampleSource("freezer-alarm"));
    const gateway = ["--gateway", t.base];
    const first = await xsedge(["deploy", file, ...gateway]);
    assert.is(first.code, 0, first.err);
    assert.match(first.out, /^freezer-alarm v1 live \(new rule\), sha256 [0-9a-f]{12}, from observation 1, \d+ ms after the deploy began\n$/);
    assert.match((await rules(["deploy", file, ...gateway])).out, /already running this source/);
    writeFileSync(file, exampleSource("freezer-alarm").replace("const RAISE_ABOVE = -15;", "const RAISE_ABOVE: string = -15;"));
    const broken = await rules(["deploy", file, ...gateway]);
    assert.is(broken.code, 1);
    assert.match(broken.err, /the gateway answered 400: the rule does not type-check/);
    assert.match(broken.err, /\n {2}freezer-alarm\.ts:9:7 TS2322 Type 'number' is not assignable to type 'string'\./);
    writeFileSync(file, exampleSource("freezer-alarm").replace("critical alert above", "a critical alert above"));
    assert.match((await rules(["deploy", file, ...gateway])).out, /^freezer-alarm v2 live \(was v1\)/);
    const list = await rules(["list", ...gateway]);
    assert.match(list.out, /^freezer-alarm\s+v2\s+running\s+caught up\s+0 events\n$/);
    await t.publish(await t.device("freezer-1"), 1, [{ quantity: "temperature", value: -10 }]);
    await t.caughtUp("freezer-alarm");
    const shown = await rules(["show", "freezer-alarm", ...gateway]);
    assert.match(shown.out, /^freezer-alarm v2 \(freezer-alarm\.ts, sha256 [0-9a-f]{12}\): running\n/);
    assert.match(shown.out, /\n {4}v2 active {5}\S+ sha256 [0-9a-f]{12}\n {4}v1 superseded \S+ sha256/);
    assert.match(shown.out, /\n {2}state \(\d+ bytes\): \{.*"warm:freezer-1".*\}\n/, shown.out);
    assert.match((await rules(["disable", "freezer-alarm", ...gateway])).out, /freezer-alarm\s+v2\s+disabled/);
    assert.match((await rules(["enable", "freezer-alarm", ...gateway])).out, /freezer-alarm\s+v2\s+running/);
    assert.match((await rules(["rollback", "freezer-alarm", "--to", "1", ...gateway])).out, /^freezer-alarm v3 live \(was v2\)/);
    const json = await rules(["show", "freezer-alarm", "--json", ...gateway]);
    assert.type(JSON.parse(json.out).state, "object");
    assert.equal(JSON.parse(json.out).versions.map((v: { detail: string | null }) => v.detail), ["rollback to version 1", null, null]);
    const missing = await rules(["show", "nothing", ...gateway]);
    assert.equal([missing.code, missing.err.trim()], [1, 'xsedge rules show: the gateway answered 404: no rule "nothing"']);
  } finally {
    await t.done();
    dir.remove();
  }
});

test("usage errors exit 2 naming the mistake; an unreachable gateway exits 1; the token goes in the authorization header, from XSEDGE_API_TOKEN or --token-file", async () => {
  for (const [args, message] of [
    [[], /a command is needed/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [["show"], /show needs a rule's name/],
    [["list", "x"], /list takes no argument/],
    [["deploy", "a.ts", "--to", "2"], /--to goes with rollback/],
    [["rollback", "x", "--to", "two"], /--to must be a version number/],
    [["list", "--gateway", "ftp://x"], /--gateway must be an http or https URL/],
    [["list", "--colour"], /Unknown option '--colour'/],
  ] as const) {
    const run = await rules([...args]);
    assert.is(run.code, 2, `${args.join(" ")}: ${run.err}`);
    assert.match(run.err, message);
  }
  assert.match((await rules(["--help"])).out, /^Usage: xsedge rules <command>/);
  const real = await xsedge(["frobnicate"]);
  assert.equal([real.code, /unknown command "frobnicate"/.test(real.err)], [2, true], "the binary exits 2 on a usage error too");
  const down = await rules(["list", "--gateway", "http://127.0.0.1:1"]);
  assert.equal([down.code, /could not reach the gateway at http:\/\/127\.0\.0\.1:1/.test(down.err)], [1, true]);
  const seen: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ rules: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = tempDir("rules-cli-token");
  try {
    assert.is((await rules(["list", "--gateway", base], { XSEDGE_API_TOKEN: "from-env" })).out, "no rules\n");
    writeFileSync(join(dir.path, "token"), "from-file\n");
    await rules(["list", "--gateway", base, "--token-file", join(dir.path, "token")]);
    assert.equal(seen, ["Bearer from-env", "Bearer from-file"]);
  } finally {
    server.close();
    dir.remove();
  }
});

test.run();
