/*
 * The uplink's rules, run directly over the real FlashLog on the NOR model
 * with a scripted MQTT client: records leave flash only when acknowledged
 * and everything before them is too; nothing is skipped or sent twice.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FlashLog } from "../../modules/storage/flash-log.js";
import { Uplink, type UplinkClient } from "../../modules/device/uplink.js";
import { NorFlash } from "../../simulator/storage/nor-flash.js";

class ScriptedClient implements UplinkClient {
  connected = true;
  window: Array<{ payload: number; token: unknown }> = [];
  refuseNext = false;
  constructor(readonly maxInFlight: number) {}
  get inFlight(): number {
    return this.window.length;
  }
  publish(_topic: string, payload: Uint8Array, token?: unknown): boolean {
    if (this.refuseNext || !this.connected || this.window.length >= this.maxInFlight) {
      this.refuseNext = false;
      return false;
    }
    this.window.push({ payload: payload[0], token });
    return true;
  }
  /** The broker acknowledges the message carrying `payload`. */
  ack(uplink: Uplink, payload: number): void {
    const at = this.window.findIndex((m) => m.payload === payload);
    const [message] = this.window.splice(at, 1);
    uplink.acknowledged(message.token);
  }
}

function rig(maxInFlight = 4, policy: "drop-oldest" | "refuse-newest" = "drop-oldest") {
  const chip = new NorFlash({ blockSize: 512, blocks: 4 });
  const log = FlashLog.mount(chip, { policy });
  const uplink = new Uplink({ log, topic: "t", maxInFlight, maxRecordBytes: 255 });
  const client = new ScriptedClient(maxInFlight);
  uplink.attach(client);
  return { chip, log, uplink, client };
}

const record = (n: number) => Uint8Array.of(n, 0, 0, 0, 0);

test("publishes in order up to the window and releases on acknowledgement", () => {
  const { log, uplink, client } = rig(4);
  for (let n = 1; n <= 6; n++) uplink.record(record(n));
  assert.equal(client.window.map((m) => m.payload), [1, 2, 3, 4]);
  client.ack(uplink, 1);
  assert.is(log.records, 5);
  assert.equal(client.window.map((m) => m.payload), [2, 3, 4, 5], "the freed slot takes the next record");
});

test("an acknowledgement out of order releases nothing until the ones before it arrive", () => {
  const { log, uplink, client } = rig(4);
  for (let n = 1; n <= 4; n++) uplink.record(record(n));
  client.ack(uplink, 3);
  client.ack(uplink, 2);
  assert.is(log.records, 4, "record 1 is unacknowledged, so nothing leaves flash");
  client.ack(uplink, 1);
  assert.is(log.records, 1, "1, 2 and 3 leave together");
  assert.is(uplink.stats.released, 3);
});

test("what was unacknowledged at a reboot is read again from flash, nothing skipped", () => {
  const { chip, uplink, client } = rig(2);
  for (let n = 1; n <= 5; n++) uplink.record(record(n));
  client.ack(uplink, 1);
  // Power cut: a new boot mounts the same chip.
  const log = FlashLog.mount(chip, { policy: "drop-oldest" });
  const again = new Uplink({ log, topic: "t", maxInFlight: 8, maxRecordBytes: 255 });
  const fresh = new ScriptedClient(8);
  again.attach(fresh);
  again.pump();
  assert.equal(fresh.window.map((m) => m.payload), [2, 3, 4, 5]);
});

test("nothing is sent while disconnected; a refused publish is read again, not lost", () => {
  const { uplink, client } = rig(4);
  client.connected = false;
  for (let n = 1; n <= 3; n++) uplink.record(record(n));
  assert.is(client.window.length, 0);
  client.connected = true;
  client.refuseNext = true;
  uplink.pump();
  assert.equal(client.window.map((m) => m.payload), [], "the refused record stays where it was");
  uplink.pump();
  assert.equal(client.window.map((m) => m.payload), [1, 2, 3]);
});

test("a connect-time record is sent ahead of the backlog and never touches flash", () => {
  const { log, uplink, client } = rig(4);
  client.connected = false;
  uplink.record(record(1));
  client.connected = true;
  assert.ok(uplink.sendEphemeral(Uint8Array.of(99)));
  uplink.pump();
  assert.equal(client.window.map((m) => m.payload), [99, 1]);
  client.ack(uplink, 99);
  assert.is(log.records, 1, "acknowledging the ephemeral record releases nothing");
  assert.is(uplink.stats.anchorsSent, 1);
});

test("a full log under refuse-newest refuses and counts; under drop-oldest it keeps the newest", () => {
  const refusing = rig(1, "refuse-newest");
  refusing.client.connected = false;
  let accepted = 0;
  for (let n = 0; n < 400; n++) if (refusing.uplink.record(record(n % 250))) accepted++;
  assert.ok(refusing.uplink.stats.refused > 0);
  assert.is(refusing.uplink.stats.refused + accepted, 400);
  const dropping = rig(1, "drop-oldest");
  dropping.client.connected = false;
  for (let n = 0; n < 400; n++) dropping.uplink.record(record(n % 250));
  assert.is(dropping.uplink.stats.refused, 0);
  assert.ok(dropping.log.stats().dropped > 0);
});

test.run();
