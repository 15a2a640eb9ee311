/*
 * What a device does with a message from the gateway, on Node with the
 * device's own code: settings declared, read from preferences or config and
 * checked; a set of changes applied whole or not at all, persisted, and
 * announced; commands run or refused; a request applied once even when it
 * is delivered twice or the device reboots; and a report for each.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { encode } from "cbor-x";
import { APP_DOMAIN, SettingsRegistry, type SettingsStore } from "../../modules/device/app-settings.js";
import { DownlinkHandler, LAST_REQUEST_KEY, STATE_DOMAIN, type CommandHandler } from "../../modules/device/downlink-handler.js";
import { SettingsError } from "../../modules/device/settings.js";
import { decodeReport, encodeDownlink } from "../../modules/downlink/host-codec.js";
import { OutcomeStatus, type Downlink, type Outcome } from "../../modules/downlink/messages.js";

function memoryStore(initial: Record<string, unknown> = {}): SettingsStore & { values: Map<string, unknown> } {
  const values = new Map(Object.entries(initial));
  return { values, get: (d, k) => values.get(`${d}/${k}`), set: (d, k, v) => void values.set(`${d}/${k}`, v) };
}

function board(config: Record<string, unknown> = {}, store = memoryStore()) {
  const registry = new SettingsRegistry(store, config);
  const changes: string[] = [];
  const period = registry.declare("samplePeriodMs", { type: "integer", default: 1000, min: 10, max: 86_400_000 }, "xsedge-config");
  const limit = registry.declare("limit", { type: "number", default: 30, min: -40, max: 125, onChange: (v) => changes.push(`limit ${v}`) });
  const mode = registry.declare("mode", { type: "text", default: "eco", oneOf: ["eco", "fast"] });
  const part = registry.declare("part", { type: "text", default: "tmp117", remote: false });
  registry.listen("samplePeriodMs", (v) => changes.push(`period ${v}`));
  const reports: Outcome[] = [];
  const traces: string[] = [];
  const commands = new Map<string, CommandHandler>([
    ["flush", () => "3 records in flash"],
    ["fail", () => { throw new Error("the part is busy"); }],
    ["echo", (arg) => `echo ${String(arg)}`],
  ]);
  const handler = new DownlinkHandler({
    settings: registry,
    command: (name) => commands.get(name),
    store,
    report: (bytes) => reports.push(decodeReport(bytes)),
    trace: (line) => traces.push(line),
  });
  const send = (message: Downlink) => handler.handle(encodeDownlink(message));
  return { registry, store, handler, send, reports, traces, changes, settings: { period, limit, mode, part } };
}

test("a setting's value comes from the preferences, else the manifest's config, else its default, and is checked", () => {
  const store = memoryStore({ [`${APP_DOMAIN}/limit`]: "12.5" });
  const { settings } = board({ mode: "fast", limit: 99 }, store);
  assert.equal([settings.limit.value, settings.mode.value, settings.period.value, settings.part.value], [12.5, "fast", 1000, "tmp117"]);
  const refused = (config: Record<string, unknown>, pattern: RegExp) => {
    try {
      board(config);
      assert.unreachable("accepted");
    } catch (e) {
      assert.instance(e, SettingsError);
      assert.match((e as Error).message, pattern);
    }
  };
  refused({ limit: 200 }, /config limit: must be a number from -40 to 125, got 200/);
  refused({ mode: "turbo" }, /config mode: must be one of eco, fast, got "turbo"/);
  const registry = new SettingsRegistry(memoryStore(), {});
  assert.throws(() => registry.declare("bad name", { type: "boolean", default: true }), /names are 1 to 15/);
  assert.throws(() => registry.declare("x", { type: "integer", default: 50, min: 0, max: 10 }), /default of setting x: must be an integer from 0 to 10/);
  registry.declare("x", { type: "boolean", default: true });
  assert.throws(() => registry.declare("x", { type: "boolean", default: true }), /declared twice/);
});

test("settings are applied whole: persisted, in effect, announced, and reported", () => {
  const { send, reports, store, settings, changes } = board();
  send({ kind: "set", requestId: 10, settings: [["samplePeriodMs", "5000"], ["limit", 22.75], ["mode", "fast"]] });
  assert.equal(reports, [{ requestId: 10, status: OutcomeStatus.APPLIED, detail: null }]);
  assert.equal([settings.period.value, settings.limit.value, settings.mode.value], [5000, 22.75, "fast"]);
  assert.equal(changes, ["period 5000", "limit 22.75"]);
  // Preferences hold 32-bit integers: a fraction is kept as text, and read back as the number.
  assert.equal([store.values.get("xsedge-config/samplePeriodMs"), store.values.get(`${APP_DOMAIN}/limit`), store.values.get(`${APP_DOMAIN}/mode`)], [5000, "22.75", "fast"]);
  assert.is(store.values.get(`${STATE_DOMAIN}/${LAST_REQUEST_KEY}`), "10");
  assert.equal(board({}, store).settings.limit.value, 22.75, "a reboot keeps them");
});

test("one bad key refuses the whole set, naming it; nothing of it is applied", () => {
  const { send, reports, settings, changes } = board();
  const cases: Array<[Array<[string, string | number | boolean]>, RegExp]> = [
    [[["limit", 10], ["samplePeriodMs", 5]], /samplePeriodMs: must be an integer from 10 to 86400000, got 5/],
    [[["limit", 10], ["colour", "red"]], /colour: no such setting/],
    [[["part", "bme280"]], /part: can only be set in the manifest or by provisioning/],
    [[["mode", true]], /mode: must be text, got true/],
  ];
  cases.forEach(([changeSet], i) => send({ kind: "set", requestId: 20 + i, settings: changeSet }));
  assert.equal(reports.map((r) => r.status), cases.map(() => OutcomeStatus.REFUSED));
  reports.forEach((r, i) => assert.match(String(r.detail), cases[i][1]));
  assert.equal([settings.limit.value, settings.period.value, changes], [30, 1000, []]);
});

test("a request is applied once: a re-delivery, or a delivery after a reboot, is reported stale and not applied", () => {
  const store = memoryStore();
  const first = board({}, store);
  first.send({ kind: "set", requestId: 100, settings: [["limit", 5]] });
  first.send({ kind: "set", requestId: 100, settings: [["limit", 5]] });
  first.send({ kind: "set", requestId: 99, settings: [["limit", 99]] });
  assert.equal(first.reports.map((r) => r.status), [OutcomeStatus.APPLIED, OutcomeStatus.STALE, OutcomeStatus.STALE]);
  assert.match(String(first.reports[2].detail), /request 100 or a newer one was applied already/);
  assert.is(first.settings.limit.value, 5);
  const rebooted = board({}, store);
  rebooted.send({ kind: "command", requestId: 100, name: "flush", arg: undefined });
  assert.equal(rebooted.reports.map((r) => r.status), [OutcomeStatus.STALE]);
  assert.equal(rebooted.handler.stats, { applied: 0, refused: 0, stale: 1, unreadable: 0 });
});

test("commands: run with their argument and detail, refused when unknown or when they throw", () => {
  const { send, reports } = board();
  send({ kind: "command", requestId: 1, name: "flush", arg: undefined });
  send({ kind: "command", requestId: 2, name: "echo", arg: "hi" });
  send({ kind: "command", requestId: 3, name: "launch", arg: undefined });
  send({ kind: "command", requestId: 4, name: "fail", arg: undefined });
  assert.equal(reports, [
    { requestId: 1, status: OutcomeStatus.APPLIED, detail: "3 records in flash" },
    { requestId: 2, status: OutcomeStatus.APPLIED, detail: "echo hi" },
    { requestId: 3, status: OutcomeStatus.REFUSED, detail: "launch: no such command" },
    { requestId: 4, status: OutcomeStatus.REFUSED, detail: "fail: the part is busy" },
  ]);
});

test("an unreadable message is refused when its request id could be read, and only counted and traced otherwise", () => {
  const { handler, reports, traces } = board();
  handler.handle(new Uint8Array(encode([1, 7, "bad key!", 1])));
  assert.equal(reports.map((r) => [r.requestId, r.status]), [[7, OutcomeStatus.REFUSED]]);
  handler.handle(new Uint8Array([0xff, 0x00]));
  handler.handle(new Uint8Array(encode({ kind: 1 })));
  assert.is(reports.length, 1);
  assert.is(handler.stats.unreadable, 2);
  assert.ok(traces.some((t) => t.startsWith("downlink: ")), traces.join("\n"));
});

test("a listener that throws does not undo the change, and the report says so", () => {
  const store = memoryStore();
  const registry = new SettingsRegistry(store, {});
  registry.declare("gain", { type: "integer", default: 1, min: 1, max: 8, onChange: () => { throw new Error("amplifier offline"); } });
  const reports: Outcome[] = [];
  const handler = new DownlinkHandler({ settings: registry, command: () => undefined, store, report: (b) => reports.push(decodeReport(b)), trace: () => {} });
  handler.handle(encodeDownlink({ kind: "set", requestId: 1, settings: [["gain", 4]] }));
  assert.is(reports[0].status, OutcomeStatus.APPLIED);
  assert.match(String(reports[0].detail), /listener failed: gain: amplifier offline/);
  assert.is(store.values.get(`${APP_DOMAIN}/gain`), 4);
});

test.run();
