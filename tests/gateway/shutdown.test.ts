/*
 * The gateway as an operator runs it: the CLI in its own process with a
 * config file, stopped by SIGTERM as systemd does.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ObservationStore } from "../../hosts/gateway/store/observation-store.js";
import { observation, tempDir, waitFor, within } from "../support/test-helpers.js";

const CLI = fileURLToPath(new URL("../../hosts/cli/xsedge.js", import.meta.url));

/** A cloud that holds each observations request until the test releases it. */
async function slowCloud() {
  const held: Array<{ res: ServerResponse; keys: unknown[] }> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // The gateway also follows the cloud's registration stream: this cloud has none.
    if (req.method !== "POST" || req.url !== "/api/v1/observations") return void res.writeHead(404).end();
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const observations = (JSON.parse(body) as { observations: Array<{ sensorId: string; seq: number }> }).observations;
      held.push({ res, keys: observations.map(({ sensorId, seq }) => ({ sensorId, seq })) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    held,
    release() {
      for (const { res, keys } of held.splice(0)) res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ acked: keys }));
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function runGateway(dir: string, cloudUrl: string, deadline: string) {
  const config = join(dir, "gateway.yaml");
  writeFileSync(config, `dataDir: ${dir}\nmqtt:\n  host: 127.0.0.1\n  port: 0\nhttp:\n  port: 0\ncloud:\n  transport: http\n  url: ${cloudUrl}\nshutdown:\n  deadlineMs: ${deadline}\n`);
  const child: ChildProcess = spawn(process.execPath, [CLI, "gateway", "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
  const out = { stdout: "", stderr: "" };
  child.stdout!.on("data", (d) => (out.stdout += d));
  child.stderr!.on("data", (d) => (out.stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const lines = () => out.stderr.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Record<string, unknown>);
  const logged = (msg: RegExp) => lines().find((line) => msg.test(String(line.msg)));
  return { child, out, exited, lines, logged };
}

function storeWith(dir: string, count: number): void {
  const store = ObservationStore.open(dir);
  for (let seq = 1; seq <= count; seq++) store.append(observation("s-1", seq), 1000 + seq);
  store.close();
}

function unrelayed(dir: string): number {
  const store = ObservationStore.open(dir);
  const count = store.counts().unrelayed;
  store.close();
  return count;
}

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(true));
  });

test("SIGTERM: stops accepting, lets the relay request in flight finish and records its ack, exits 0; every log line is JSON", async () => {
  const dir = tempDir("gw-term");
  const cloud = await slowCloud();
  storeWith(dir.path, 3);
  const gateway = runGateway(dir.path, cloud.url, "10s");
  await waitFor("the relay's request to reach the cloud", () => cloud.held.length === 1, 10_000);
  const listening = await waitFor("the MQTT port to be logged", () => gateway.logged(/^mqtt listening/));
  gateway.child.kill("SIGTERM");
  await waitFor("the gateway to log its stop", () => gateway.logged(/^stopping \(SIGTERM\)/));
  assert.ok(await refused(listening.port as number), "no new MQTT connections while draining");
  cloud.release();
  assert.is(await within("the gateway to exit", gateway.exited, 10_000), 0);
  assert.is(unrelayed(dir.path), 0, "the ack that arrived during the drain was recorded");
  const lines = gateway.lines();
  for (const line of lines) {
    for (const field of ["time", "level", "component", "msg"]) assert.type(line[field], "string", `${field} in ${JSON.stringify(line)}`);
    assert.ok(!Number.isNaN(Date.parse(line.time as string)));
  }
  const messages = lines.map((line) => line.msg);
  for (const msg of ["configuration loaded", "gateway started", "stopping (SIGTERM)", "gateway stopped"]) assert.ok(messages.includes(msg), `logged "${msg}"`);
  assert.is(gateway.out.stdout, "", "stdout stays free for program output");
  await cloud.close();
  dir.remove();
});

test("a drain that overruns its deadline exits 1, naming what was still running, and loses nothing", async () => {
  const dir = tempDir("gw-deadline");
  const cloud = await slowCloud();
  storeWith(dir.path, 2);
  const gateway = runGateway(dir.path, cloud.url, "200ms");
  await waitFor("the relay's request to reach the cloud", () => cloud.held.length === 1, 10_000);
  gateway.child.kill("SIGTERM");
  assert.is(await within("the gateway to give up and exit", gateway.exited, 10_000), 1);
  const overran = gateway.logged(/^stop deadline/);
  assert.ok(overran, gateway.out.stderr);
  assert.is(overran!.level, "error");
  assert.match(String(overran!.msg), new RegExp(`stop deadline of 200 ms passed; still running: relay request in flight to http ${cloud.url}`));
  await cloud.close();
  assert.is(unrelayed(dir.path), 2, "the unacknowledged rows stay for the next start");
  dir.remove();
});

test("a bad config file exits 2 before anything starts, listing every error", async () => {
  const dir = tempDir("gw-badcfg");
  const config = join(dir.path, "gateway.yaml");
  writeFileSync(config, "mqtt:\n  prot: 1883\nrelay:\n  batchSize: 0\n");
  const child = spawn(process.execPath, [CLI, "gateway", "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  assert.is(await within("the CLI to exit", new Promise((resolve) => child.once("exit", resolve)), 10_000), 2);
  assert.match(stderr, /^xsedge gateway: 2 configuration errors:\n/);
  assert.match(stderr, new RegExp(`${config}:2:3: unknown key mqtt.prot \\(did you mean mqtt.port\\?\\)`));
  assert.match(stderr, new RegExp(`${config}:4:14: relay.batchSize must be an integer from 1 to 10000, got 0`));
  dir.remove();
});

test.run();
