/*
 * SIGKILL during a redeploy, under load: a gateway process with a rule that
 * derives one observation per device observation is killed at a random
 * moment while a new version is being deployed (type-check, probe, load
 * beside the old, hand-over), again and again, alternating two versions.
 * Afterwards every acknowledged device observation has exactly one derived
 * observation (none lost, none twice), and each came from the version
 * active at its offset: all of one version's outputs for a stretch, never
 * interleaved.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FloodingDevice } from "../../support/flooding-device.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";
import { RULE_WAIT_MS } from "../../support/rules-gateway.js";
import { pollFor } from "../../support/gateway-api.js";

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "support", "rules-gateway-child.js");
const SENSORS = ["s-1", "s-2"];
const KILLS = 3;
const WINDOW = 8;

/** Version `v` derives "<sensor>.twin" = seq + v / 10: each output names its input and the version that made it. */
function twin(v: number): string {
  return `import { defineRule } from "xsedge/rules";
export default defineRule({
  name: "twin",
  select: { sensors: "s-*" },
  start: "stored",
  initialState: () => ({ n: 0 }),
  onObservation(observation, ctx) {
    ctx.state.n++;
    ctx.derive({ sensorId: observation.sensorId + ".twin", readings: [{ quantity: "temperature", value: observation.seq + ${v} / 10 }] });
  },
});
`;
}

async function startChild(dataDir: string): Promise<{ child: ChildProcess; mqtt: number; http: string }> {
  const child = spawn(process.execPath, [CHILD, dataDir, SENSORS.join(",")], { stdio: ["ignore", "pipe", "inherit"] });
  const [mqtt, http] = await within(
    "the gateway child to be ready",
    new Promise<number[]>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (chunk) => {
        out += chunk;
        const match = /ready (\d+) (\d+)/.exec(out);
        if (match) resolve([Number(match[1]), Number(match[2])]);
      });
      child.once("exit", (code) => reject(new Error(`gateway child exited (${code}) before it was ready`)));
    }),
    RULE_WAIT_MS,
  );
  return { child, mqtt, http: `http://127.0.0.1:${http}` };
}

const deploy = (base: string, source: string) =>
  fetch(`${base}/api/v1/rules`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source, file: "twin.ts" }) });

test("SIGKILL during a redeploy under load: every acknowledged observation derived exactly once, by the version active at its offset", async () => {
  const dir = tempDir("rules-sigkill");
  const devices = SENSORS.map((s) => new FloodingDevice(s, WINDOW));
  const moments: number[] = [];
  try {
    let { child, mqtt, http } = await startChild(dir.path);
    assert.is((await deploy(http, twin(1))).status, 201);
    for (let round = 0; round < KILLS; round++) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      await Promise.all(devices.map((d) => d.connect(mqtt)));
      const before = devices.reduce((n, d) => n + d.acked.size, 0);
      await waitFor("acknowledgements this round", () => devices.reduce((n, d) => n + d.acked.size, 0) > before + 100, RULE_WAIT_MS);
      // Somewhere in the deploy: the build, the probe, the load beside the old version, the hand-over, or just after.
      const moment = Math.floor(Math.random() * 2500);
      moments.push(moment);
      deploy(http, twin(round % 2 === 0 ? 2 : 1)).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, moment));
      child.kill("SIGKILL");
      await within("the child to die", exited);
      await within("the devices to see it", Promise.all(devices.map((d) => d.closed())));
      ({ child, mqtt, http } = await startChild(dir.path));
    }
    // A last run: the devices stop, the rule catches up.
    await Promise.all(devices.map((d) => d.connect(mqtt)));
    for (const d of devices) d.stop();
    await waitFor("the devices' last acknowledgements", () => devices.every((d) => d.unacked.size === 0), RULE_WAIT_MS);
    await pollFor("the rule to catch up", async () => {
      const answer = (await (await fetch(`${http}/api/v1/rules/detail?name=twin`)).json()) as { rule: { lagObservations: number; uncommitted: boolean } };
      return answer.rule.lagObservations === 0 && !answer.rule.uncommitted ? true : undefined;
    }, RULE_WAIT_MS);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await within("the child to stop", exited);

    const db = new Database(join(dir.path, "observations.db"), { readonly: true });
    const rows = db.prepare<[], { sensor_id: string; readings: string; id: number }>(
      "SELECT o.sensor_id, o.readings, o.id FROM observations o JOIN rule_derived d ON d.id = o.id ORDER BY o.id",
    ).all();
    const seen = new Map<string, number[]>();
    let lastVersion = 0;
    let switches = 0;
    for (const row of rows) {
      const value = JSON.parse(row.readings)[0].value as number;
      const seq = Math.floor(value);
      const version = Math.round((value - seq) * 10);
      const key = `${row.sensor_id.replace(/\.twin$/, "")}#${seq}`;
      seen.set(key, [...(seen.get(key) ?? []), version]);
      if (version !== lastVersion) switches++;
      lastVersion = version;
    }
    let checked = 0;
    for (const d of devices) {
      for (const seq of d.acked) {
        const versions = seen.get(`${d.sensorId}#${seq}`) ?? [];
        assert.is(versions.length, 1, `${d.sensorId} seq ${seq}: derived ${versions.length} times (kills after ${moments.join(", ")} ms)`);
        checked++;
      }
    }
    assert.is(seen.size, checked, "nothing derived for an observation that was not acknowledged");
    // Outputs go in offset order, and a version hands over once: one stretch per version taking over.
    assert.ok(switches <= KILLS + 1, `${switches} switches between versions for ${KILLS} deploys`);
    const versions = db.prepare<[], { version: number; status: string }>("SELECT version, status FROM rule_versions WHERE rule = 'twin' ORDER BY version").all();
    assert.is(versions.filter((v) => v.status === "active").length, 1, JSON.stringify(versions));
    assert.ok(versions.every((v) => v.status !== "pending"), "no version is left pending after a restart");
    db.close();
  } finally {
    dir.remove();
  }
});

test.run();
