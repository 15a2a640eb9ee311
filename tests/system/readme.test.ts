/*
 * What the README promises a new user, checked against what the programs
 * do: every HTTP path it names is served, the mcsim commands follow
 * mcconfig's folder naming and ask for the trace lines they promise (the
 * same device code prints them under `xsedge sim --trace`), `--version`
 * exists, and every command words a bad flag alike.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startCloud } from "../../simulator/cloud/server.js";
import { TEST_CREDENTIALS } from "../support/cloud-access.js";
import { startApiGateway } from "../support/gateway-api.js";
import { tempDir, waitFor } from "../support/test-helpers.js";

const root = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const README = readFileSync(root("README.md"), "utf8");
const CLI = root("dist/hosts/cli/xsedge.js");

function run(args: string[]): { out: () => string; code: Promise<number | null>; stop(): void } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const code = new Promise<number | null>((resolve) => child.on("close", resolve));
  const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
  void code.then(() => clearTimeout(guard));
  return { out: () => out, code, stop: () => child.kill("SIGINT") };
}

test("every HTTP path the README names is served by the gateway's API or the cloud's", async () => {
  const paths = [...new Set([...README.matchAll(/`(?:(?:GET|POST|POST\/GET)\s+)?(\/(?:api\/v1\/[a-z/]+|healthz|metrics))[`?]/g)].map((m) => m[1].replace(/\/$/, "")))];
  assert.ok(paths.length >= 6, `paths found: ${paths.join(" ")}`);
  const dir = tempDir("readme-paths");
  const gateway = await startApiGateway(["s-1"]);
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, host: "127.0.0.1", port: 0, grpcPort: 0, dataDir: join(dir.path, "cloud"), logger: createMemoryLogger("cloud") });
  try {
    for (const path of paths) {
      const statuses: number[] = [];
      for (const base of [gateway.base, cloud.url]) {
        const abort = new AbortController();
        // Headers are enough (an SSE stream never ends by itself).
        const response = await fetch(base + path, { signal: abort.signal });
        statuses.push(response.status);
        abort.abort();
      }
      assert.ok(statuses.some((status) => status !== 404), `README names ${path}, which neither serves (${statuses.join(", ")})`);
    }
  } finally {
    await gateway.done();
    await cloud.close();
    dir.remove();
  }
});

test("the mcsim commands: the mc.so path is named after the clone's directory, as mcconfig names it, and the build asks for the promised trace lines", () => {
  assert.not.ok(README.includes("/mc/debug/main/"), "no hard-coded folder name");
  const block = README.slice(README.indexOf("## Run the app in the Moddable simulator"));
  assert.match(block, /^APP=\$\(basename "\$PWD"\)$/m);
  assert.match(block, /\$MODDABLE\/build\/bin\/lin\/mc\/debug\/\$APP\/mc\.so/);
  const mcconfig = block.split("\n").find((line) => /mcconfig -d -m -p lin -t build manifest\.json/.test(line));
  assert.ok(mcconfig?.includes("traceSamples=true"), "the build turns on the observation trace lines");
  assert.ok(README.includes("`observation seq=…`") && README.includes("`traceSamples`"), "the setting is documented with the lines it gives");
});

test("traceSamples, as the README gives it, makes the device trace its observation lines (xsedge sim --trace, the same bundle on XS)", async () => {
  const dir = tempDir("readme-trace");
  const r = run(["sim", "--devices", "1", "--trace", "--period", "50", "--gateway", "127.0.0.1:9", "--data-dir", dir.path]);
  try {
    await waitFor("an observation trace line", () => /sim-1: observation seq=\d+ temperature=-?[\d.]+ logged=\d+/.test(r.out()), 20_000);
  } finally {
    r.stop();
    await r.code;
    dir.remove();
  }
});

test("--version prints package.json's version; every command words a bad flag alike, exit 2; sim --help names its three sensor parts", async () => {
  const version = JSON.parse(readFileSync(root("package.json"), "utf8")).version as string;
  const v = run(["--version"]);
  assert.is(await v.code, 0);
  assert.is(v.out(), `xsedge ${version}\n`);
  for (const command of ["up", "sim", "cloud", "gateway"]) {
    const r = run([command, "--bogus"]);
    assert.is(await r.code, 2, command);
    assert.match(r.out(), new RegExp(`^xsedge ${command}: unknown option --bogus\\nRun "xsedge ${command} --help" for usage\\.\\n$`), command);
  }
  const typo = run(["up", "--devics", "2"]);
  assert.is(await typo.code, 2);
  assert.match(typo.out(), /^xsedge up: unknown option --devics \(did you mean --devices\?\)/);
  const help = run(["sim", "--help"]);
  assert.is(await help.code, 0);
  assert.match(help.out(), /TMP117, SHT3x and BME280/);
});

test.run();
