import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { DEFAULT_STOP_DEADLINE_MS } from "../../hosts/gateway/config/schema.js";
import { parseDuration } from "../../hosts/gateway/config/value-kinds.js";
import { peerProgram } from "../support/peer-programs.js";
import { tempDir } from "../support/test-helpers.js";

const root = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const UNIT = root("hosts/gateway/systemd/xsedge-gateway.service");
const unitText = readFileSync(UNIT, "utf8");
const example = parseYaml(readFileSync(root("hosts/gateway/gateway.example.yaml"), "utf8"));

/** systemd's unit syntax: [Section] headers, Key=Value lines (a key may repeat), # and ; comments. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1], current);
      return;
    }
    const pair = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!pair || !current) throw new Error(`${UNIT}:${i + 1}: not a Key=Value line in a section: ${raw}`);
    current.set(pair[1], [...(current.get(pair[1]) ?? []), pair[2]]);
  });
  return sections;
}

const unit = parseUnit(unitText);
const service = (key: string) => unit.get("Service")?.get(key)?.at(-1);

test("the unit has the three sections and runs as its own user", () => {
  assert.equal([...unit.keys()], ["Unit", "Service", "Install"]);
  assert.is(service("User"), "xsedge");
  assert.is(service("Type"), "simple");
  assert.is(unit.get("Install")?.get("WantedBy")?.[0], "multi-user.target");
});

test("ExecStart runs the CLI entry point package.json declares, with the config in ConfigurationDirectory", () => {
  const bin = JSON.parse(readFileSync(root("package.json"), "utf8")).bin.xsedge as string;
  const exec = service("ExecStart")!.split(" ");
  assert.equal(exec.slice(0, 3), ["/usr/bin/node", `/opt/xsedge/${bin}`, "gateway"]);
  assert.equal(exec.slice(3), ["--config", `/etc/${service("ConfigurationDirectory")}/gateway.yaml`]);
});

test("StateDirectory is the example config's dataDir, and the only writable path", () => {
  assert.is(`/var/lib/${service("StateDirectory")}`, example.dataDir);
  assert.is(service("ReadWritePaths"), example.dataDir);
  assert.is(service("ProtectSystem"), "strict");
  assert.is(service("NoNewPrivileges"), "yes");
  assert.is(service("PrivateTmp"), "yes");
});

test("stopping sends SIGTERM and waits longer than the gateway's drain deadline; a config error is not restarted", () => {
  assert.is(service("KillSignal"), "SIGTERM");
  const stopSeconds = Number(service("TimeoutStopSec"));
  const deadlineMs = typeof example.shutdown.deadlineMs === "string" ? parseDuration(example.shutdown.deadlineMs)! : example.shutdown.deadlineMs;
  assert.ok(stopSeconds * 1000 > Math.max(deadlineMs, DEFAULT_STOP_DEADLINE_MS), `TimeoutStopSec=${stopSeconds} must outlast the ${deadlineMs} ms drain`);
  assert.is(service("Restart"), "on-failure");
  assert.is(service("RestartPreventExitStatus"), "2");
});

test("systemd-analyze verify accepts the unit without a warning", () => {
  const dir = tempDir("unit");
  // verify checks that ExecStart's program exists; this machine's node may live elsewhere than /usr/bin.
  const path = join(dir.path, "xsedge-gateway.service");
  writeFileSync(path, unitText.replace("/usr/bin/node", process.execPath));
  const systemdAnalyze = peerProgram("systemd-analyze");
  const result = spawnSync(systemdAnalyze, ["verify", path], { encoding: "utf8" });
  assert.is(result.stderr, "", "no warnings");
  assert.is(result.status, 0);
  dir.remove();
  // Sanity: the same check does fail on a misspelt key, so the empty stderr above means something.
  const bad = tempDir("unit-bad");
  const badPath = join(bad.path, "xsedge-gateway.service");
  writeFileSync(badPath, unitText.replace("/usr/bin/node", process.execPath).replace("TimeoutStopSec=", "TimeoutStopSecs="));
  assert.match(spawnSync(systemdAnalyze, ["verify", badPath], { encoding: "utf8" }).stderr, /Unknown key 'TimeoutStopSecs'/);
  bad.remove();
});

test.run();
