/*
 * The downlink API's limits and refusals over real HTTP, expiry on the
 * gateway's clock, and `xsedge device` against a real gateway with a device
 * that answers.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startApiGateway, type ApiGateway } from "../../support/gateway-api.js";
import { deviceCommand, parseValue } from "../../../hosts/cli/device.js";
import { downlinkTopic, reportTopic } from "../../../hosts/gateway/ingest/downlink.js";
import { startApiServer } from "../../../hosts/gateway/api/server.js";
import { ObservationStore } from "../../../hosts/gateway/store/observation-store.js";
import { MAX_WAITING_PER_SENSOR } from "../../../hosts/gateway/downlink/dispatcher.js";
import { readDownlink, writeOutcome, OutcomeStatus } from "../../../modules/downlink/messages.js";
import { CborWriter } from "../../../modules/observation/cbor-writer.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { tempDir } from "../../support/test-helpers.js";

async function call(base: string, method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; json: any }> {
  const response = await fetch(base + path, { method, headers: { "content-type": "application/json" }, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
  return { status: response.status, json: await response.json() };
}

test("bad requests are refused naming what is wrong: 400 for the body, 404 for an unknown sensor, 413 for a large one, 429 past the queue's bound", async () => {
  const t = await startApiGateway(["dev-1"]);
  try {
    const cases: Array<[unknown, number, RegExp]> = [
      [{ sensorId: "dev-1" }, 400, /either settings or command/],
      [{ sensorId: "dev-1", settings: {}, command: "flush" }, 400, /either settings or command/],
      [{ sensorId: "dev-1", settings: {} }, 400, /1 to 8 keys/],
      [{ sensorId: "dev-1", settings: { a: null } }, 400, /settings\.a must be a number, text, true or false/],
      [{ sensorId: "dev-1", settings: { "bad key": 1 } }, 400, /keys are 1 to 15/],
      [{ sensorId: "dev-1", settings: { a: "x".repeat(65) } }, 400, /text longer than 64 bytes/],
      [{ sensorId: "dev-1", command: "flush", colour: 1 }, 400, /unknown field "colour"/],
      [{ sensorId: "dev-1", command: 7 }, 400, /command must be/],
      [{ sensorId: "dev-1", command: "flush", ttlSeconds: 0 }, 400, /ttlSeconds/],
      [{ sensorId: "bad id", command: "flush" }, 400, /sensorId must be/],
      [[1, 2], 400, /body must be an object/],
      [{ sensorId: "dev-9", command: "flush" }, 404, /sensor dev-9 is not registered/],
    ];
    for (const [body, status, message] of cases) {
      const answer = await call(t.base, "POST", "/api/v1/downlinks", body);
      assert.is(answer.status, status, JSON.stringify(body));
      assert.match(String(answer.json.error), message);
    }
    assert.is((await call(t.base, "POST", "/api/v1/downlinks", undefined, "{not json")).status, 400);
    assert.is((await call(t.base, "POST", "/api/v1/downlinks", undefined, JSON.stringify({ sensorId: "dev-1", settings: { a: "x".repeat(20_000) } }))).status, 413);
    for (let i = 0; i < MAX_WAITING_PER_SENSOR; i++) assert.is((await call(t.base, "POST", "/api/v1/downlinks", { sensorId: "dev-1", command: "flush" })).status, 202);
    const full = await call(t.base, "POST", "/api/v1/downlinks", { sensorId: "dev-1", command: "flush" });
    assert.equal([full.status, /16 requests waiting already/.test(full.json.error)], [429, true]);
    assert.is((await call(t.base, "GET", "/api/v1/downlinks?id=1")).status, 404);
    assert.match((await call(t.base, "GET", "/api/v1/downlinks?id=5&limit=2")).json.error, /id goes alone/);
    assert.match((await call(t.base, "GET", "/api/v1/downlinks?state=queued")).json.error, /unknown query parameter "state"/);
    assert.is((await call(t.base, "GET", "/api/v1/downlinks?limit=3")).json.downlinks.length, 3);
    assert.is(t.gateway.stats().downlinks!.refusedRequests, 4, "the dispatcher's own refusals: two settings no device could read, the 404 and the 429");
  } finally {
    await t.done();
  }
});

test("a request not delivered within its time to live expires, on the gateway's clock", async () => {
  let now = Date.UTC(2026, 5, 1);
  const t = await startApiGateway(["dev-1"], { now: () => now });
  try {
    const { id, expiresAt } = (await call(t.base, "POST", "/api/v1/downlinks", { sensorId: "dev-1", command: "identify", ttlSeconds: 60 })).json.downlink;
    assert.is(expiresAt, now + 60_000);
    now += 59_000;
    assert.is((await call(t.base, "GET", `/api/v1/downlinks?id=${id}`)).json.downlinks[0].state, "queued");
    now += 2_000;
    const expired = (await call(t.base, "GET", `/api/v1/downlinks?id=${id}`)).json.downlinks[0];
    assert.equal([expired.state, expired.detail], ["expired", "not delivered within its time to live"]);
    // An expired request is not sent when the device comes.
    const device = await t.device("dev-1");
    device.send({ cmd: "subscribe", messageId: 5, subscriptions: [{ topic: downlinkTopic("dev-1"), qos: 1 }] });
    await device.waitFor("SUBACK", (p) => p.cmd === "suback");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.is(device.received.filter((p) => p.cmd === "publish").length, 0);
  } finally {
    await t.done();
  }
});

test("without the embedded broker there is no way to the devices: 503", async () => {
  const dir = tempDir("downlink-503");
  const store = ObservationStore.open(dir.path, createMemoryLogger());
  const server = await startApiServer({
    host: "127.0.0.1", port: 0, store, logger: createMemoryLogger(), stats: () => ({}),
    relay: () => ({}) as never, relayFailingSince: () => null, mqttListening: () => true,
  });
  try {
    const answer = await call(`http://127.0.0.1:${server.port}`, "POST", "/api/v1/downlinks", { sensorId: "dev-1", command: "flush" });
    assert.equal([answer.status, /embedded MQTT broker/.test(answer.json.error)], [503, true]);
  } finally {
    await server.close();
    store.close();
    dir.remove();
  }
});

/** A device that applies what it is sent: PUBACK, then an outcome report (refusing one key). */
async function answeringDevice(t: ApiGateway) {
  const device = await t.device("dev-1");
  device.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: downlinkTopic("dev-1"), qos: 1 }] });
  await device.waitFor("SUBACK", (p) => p.cmd === "suback");
  device.onPacket = (packet) => {
    if (packet.cmd !== "publish" || packet.topic !== downlinkTopic("dev-1")) return;
    const message = readDownlink(new Uint8Array(packet.payload as Buffer));
    device.send({ cmd: "puback", messageId: packet.messageId! });
    const refused = message.kind === "set" && message.settings.some(([key]) => key === "colour");
    const outcome = { requestId: message.requestId, status: refused ? OutcomeStatus.REFUSED : OutcomeStatus.APPLIED, detail: refused ? "colour: no such setting" : null };
    device.publish(reportTopic("dev-1"), writeOutcome(new CborWriter(128), outcome as never).slice());
  };
  return device;
}

test("xsedge device: set and command wait for the device's outcome; downlinks lists them; failures exit non-zero", async () => {
  const t = await startApiGateway(["dev-1"]);
  try {
    await answeringDevice(t);
    const out: string[] = [];
    const io = { out: (s: string) => void out.push(s), err: (s: string) => void out.push(`ERR ${s}`) };
    const gateway = ["--gateway", t.base];
    assert.is(await deviceCommand(["set", "dev-1", "samplePeriodMs=5000", "mode=eco", "fast=true", "--wait", "5", ...gateway], io, {}), 0, out.join(""));
    assert.match(out.join(""), /\(set samplePeriodMs=5000 mode="eco" fast=true\): applied/);
    assert.is(await deviceCommand(["set", "dev-1", "colour=red", "--wait", "5", ...gateway], io, {}), 1);
    assert.match(out.join(""), /: refused \(colour: no such setting\)/);
    assert.is(await deviceCommand(["command", "dev-1", "beep", "3", "--wait", "5", ...gateway], io, {}), 0);
    out.length = 0;
    assert.is(await deviceCommand(["downlinks", "dev-1", ...gateway], io, {}), 0);
    assert.equal(out.map((l) => /\((.*)\): (\w+)/.exec(l)!.slice(1)), [["command beep 3", "applied"], ["set colour=\"red\"", "refused"], ["set samplePeriodMs=5000 mode=\"eco\" fast=true", "applied"]]);
    out.length = 0;
    assert.is(await deviceCommand(["set", "dev-9", "a=1", ...gateway], io, {}), 1);
    assert.match(out.join(""), /the gateway answered 404: sensor dev-9 is not registered/);
    assert.is(await deviceCommand(["set", "dev-1", "nokey", ...gateway], io, {}), 2);
    assert.is(await deviceCommand(["launch", "dev-1", ...gateway], io, {}), 2);
    assert.is(await deviceCommand(["set", "dev-1", "a=1", "--gateway", "http://127.0.0.1:9"], io, {}), 1, "no gateway there");
    assert.is(await deviceCommand(["set", "dev-1", "a=1", "--gateway", "not a url"], io, {}), 2);
    assert.equal([parseValue("12"), parseValue("-1.5e3"), parseValue("true"), parseValue("007x"), parseValue("")], [12, -1500, true, "007x", ""]);
  } finally {
    await t.done();
  }
});

test.run();
