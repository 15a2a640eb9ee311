/*
 * What a power cut can cost a device: only its open batch. The device
 * bundle on XS samples every 20 ms into batches that close after 200 ms;
 * its gateway acknowledges nothing, so every closed batch waits in flash.
 * Power goes (the worker is killed, the NOR model outlives it); the next
 * boot, with the gateway acknowledging, sends what flash held. Of the
 * samples the first boot took (its trace names each seq), those delivered
 * are exactly the oldest ones, none missing among them, and those lost are
 * the newest, no more than one batch record holds: the batch that was
 * still open in RAM.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BatchWriter } from "../../modules/observation/batch-writer.js";
import { decodeUplinkRecord } from "../../modules/observation/record-decoder.js";
import { loadDeviceBundle, SIM_FLASH } from "../../simulator/fleet.js";
import { SimulatedDevice } from "../../simulator/engine/simulated-device.js";
import { PreferenceStore } from "../../simulator/engine/preference-store.js";
import { NorFlash } from "../../simulator/storage/nor-flash.js";
import { Tmp117Model } from "../../simulator/sensors/tmp117-model.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { waitFor } from "../support/test-helpers.js";
import { startPacketBroker } from "../support/packet-broker.js";

const SAMPLE_MS = 20;
const BATCH_MAX_AGE_MS = 200;

/** The most TMP117 samples one batch record holds (255 bytes), taken SAMPLE_MS apart. */
function batchCapacity(): number {
  const batch = new BatchWriter();
  let n = 0;
  while (batch.add({ sensorId: "t-1", seq: 1_000 + n, boot: 1, uptimeMs: 10_000 + n * SAMPLE_MS, readings: [{ quantity: "temperature", value: 23.5 + (n % 50) / 10 }] })) n++;
  return n;
}

test("a power cut loses only the open batch: every sample in a closed batch arrives after the reboot, the lost ones are the newest, at most one batch", async () => {
  const broker = await startPacketBroker();
  broker.ack = false;
  const flash = new NorFlash({ blockSize: SIM_FLASH.blockSize, blocks: SIM_FLASH.blocks });
  const preferences = new PreferenceStore();
  const traced: number[] = [];
  const boot = () => {
    const sim = new SimulatedDevice({
      name: "power-cut",
      bundle: loadDeviceBundle(),
      logger: createMemoryLogger(),
      preferences,
      flash: { [SIM_FLASH.partition]: flash },
      config: { sensorId: "t-1", gatewayAddress: "127.0.0.1", gatewayPort: broker.port, samplePeriodMs: SAMPLE_MS, batchMaxAgeMs: BATCH_MAX_AGE_MS, sensor: "tmp117", traceSamples: true },
      onTrace: (line) => {
        const seq = /observation seq=(\d+)/.exec(line);
        if (seq) traced.push(Number(seq[1]));
      },
    });
    sim.i2c.attach(0x48, new Tmp117Model({ temperature: () => 23.5 }));
    return sim;
  };
  const delivered = () => {
    const seqs = new Map<number, number>();
    for (const p of broker.publishes) {
      const r = decodeUplinkRecord(p.payload);
      for (const o of r.kind === "batch" ? r.observations : r.kind === "observation" ? [r.observation] : []) seqs.set(o.seq, o.boot);
    }
    return seqs;
  };

  const first = boot();
  let second: SimulatedDevice | undefined;
  try {
    await first.start();
    await waitFor("a few batches taken", () => traced.length >= 40, 10_000);
    await first.stop(); // the power cut: the worker and its RAM are gone, the flash model stays
    const taken = [...traced];
    broker.ack = true;
    broker.dropAll();
    broker.publishes.length = 0;
    second = boot();
    await second.start();
    // Boot 2's own samples arrive once the backlog from flash has gone out ahead of them.
    await waitFor("boot 2's first batch", () => [...delivered().values()].some((b) => b === 2), 10_000);
    const fromFirst = [...delivered().entries()].filter(([, b]) => b === 1).map(([seq]) => seq).sort((a, b) => a - b);
    assert.ok(fromFirst.length > 0, "the first boot's closed batches came from flash");
    assert.equal(fromFirst, taken.slice(0, fromFirst.length), "what arrived is the oldest samples of the first boot, none missing among them");
    const lost = taken.slice(fromFirst.length);
    assert.ok(lost.length <= batchCapacity(), `${lost.length} samples lost, more than one batch holds (${batchCapacity()})`);
    console.log(`  first boot: ${taken.length} samples, ${fromFirst.length} delivered after the cut, ${lost.length} lost with the open batch`);
  } finally {
    await second?.stop();
    await broker.close();
  }
});

test.run();
