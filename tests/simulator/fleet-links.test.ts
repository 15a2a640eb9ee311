/*
 * What a user's app links in the fleet, on the real XS engine: a module of
 * its own beside the bundle (as a Moddable SDK driver is, compiled once per
 * worker, talking SMBus and crc to a part), value-level stand-ins whose
 * models run on the host, a register model on the host answering at the
 * device's own clock, and System.restart() power-cycling the device.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { I2cTarget } from "../../simulator/engine/i2c-bus.js";
import { valueModelRequests } from "../../simulator/app/value-models.js";
import type { DeviceSpec } from "../../simulator/fleet/fleet-device.js";
import { tempDir, waitFor } from "../support/test-helpers.js";
import { startRecordedFleet, writeBundle } from "../support/fleet.js";

const APP = `
import Timer from "timer";
import config from "mc/config";
import Preference from "preference";
import Word from "test:word-driver";
import Humid from "embedded:sensor/Humidity/Test";
export default function main() {
  const boots = (Preference.get("t", "boots") ?? 0) + 1;
  Preference.set("t", "boots", boots);
  const word = new Word();
  const humid = new Humid({ sensor: { address: 0x40 } });
  trace("linked " + config.sensorId + " boot=" + boots + " word=" + word.read() + " crc=" + word.crc() + " humid=" + JSON.stringify(humid.sample()) + "\\n");
  if (boots === 1) Timer.set(() => { System.restart(); trace("after restart\\n"); }, 50);
}
`;

// The shape of an SDK driver: its own imports of the board's modules, resolved in the device's compartment.
const DRIVER = `
import SMBus from "embedded:io/smbus";
import { CRC8 } from "crc";
import device from "embedded:provider/builtin";
let made = 0;
export default class Word {
  #io;
  constructor() {
    made++;
    this.#io = new SMBus({ ...device.I2C.default, address: 0x48 });
  }
  read() { return this.#io.readUint16(0, true) + ":" + made; }
  crc() { return new CRC8(0x31, 0xff).checksum(new Uint8Array([0xbe, 0xef])); }
}
`;

/** A part on the host whose register 0 reads the device's clock (seconds) as a big-endian word. */
function clockPart(now: () => number): I2cTarget {
  return {
    write: () => true,
    read: (count) => {
      const seconds = Math.floor(now() / 1000) & 0xffff;
      return new Uint8Array([seconds >> 8, seconds & 0xff]).subarray(0, count);
    },
  };
}

test("an app links a driver module and value stand-ins; a host part answers at the device's clock; System.restart reboots it", async () => {
  const dir = tempDir("fleet-links");
  const app = writeBundle(dir.path, "linked.js", APP);
  let opened = 0;
  const specs: DeviceSpec[] = ["l-1", "l-2"].map((sensorId, i) => ({
    sensorId,
    app,
    seed: i + 1,
    parts: [{ part: "clock-word", address: 0x48, host: true }],
    modules: { "test:word-driver": DRIVER },
    valueDrivers: {
      specifiers: ["embedded:sensor/Humidity/Test"],
      requests: () => valueModelRequests({
        drivers: { "embedded:sensor/Humidity/Test": (context, sensor) => ({ sample: () => ({ humidity: 40 + context.seed, address: sensor.address, opened: ++opened }) }) },
      }, { sensorId, seed: i + 1, now: () => 0 }),
    },
    hostParts: new Map([[0x48, clockPart(() => fleet.device(sensorId).hostNow)]]),
    config: { sensorId },
  }));
  const fleet = await startRecordedFleet(specs, { workers: 1 });
  try {
    for (const device of fleet.engine.devices) fleet.engine.powerOn(device);
    await waitFor("both devices booted twice", () => ["l-1", "l-2"].every((id) => fleet.tracesOf(id).some((l) => l.includes("boot=2"))), 15_000);
    assert.equal([...fleet.uncaught.keys()], [], JSON.stringify([...fleet.uncaught]));
    for (const [i, id] of ["l-1", "l-2"].entries()) {
      const lines = fleet.tracesOf(id).filter((l) => l.startsWith("linked"));
      assert.is(lines.length, 2, lines.join("\n"));
      // Each boot is a fresh compartment: the driver module's instance count starts again.
      for (const [boot, line] of lines.entries()) {
        const match = new RegExp(`^linked ${id} boot=${boot + 1} word=(\\d+):1 crc=146 humid=\\{"humidity":${41 + i},"address":64,"opened":\\d+\\}$`).exec(line);
        assert.ok(match, line);
      }
      // restart() does not come back: nothing after it ran.
      assert.not.ok(fleet.tracesOf(id).includes("after restart"));
      assert.is(fleet.device(id).counters.restarts, 1);
      assert.is(fleet.device(id).counters.boots, 2);
      assert.is(fleet.device(id).preferences.get("t", "boots"), 2);
    }
    // Every boot opened its stand-in anew: four opens over two devices of two boots each.
    assert.is(opened, 4);
    // The host part read the clock of the device that asked, which moves on: a later boot reads no earlier time.
    const words = fleet.tracesOf("l-1").filter((l) => l.startsWith("linked")).map((l) => Number(/word=(\d+)/.exec(l)![1]));
    assert.ok(words[1] >= words[0], words.join(","));
    assert.is(fleet.engine.apps.size, 2, "the bundle and the driver, each compiled once for the fleet");
  } finally {
    await fleet.engine.close();
    dir.remove();
  }
});

test.run();
