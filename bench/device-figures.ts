/*
 * The device runtime's figures, each against a baseline measured in the
 * same run: bytes per observation in flash against JSON, the XS heap after
 * 10,000 samples against after boot, and the flash log's projected life with
 * batches against one record per sample.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BatchWriter } from "../modules/observation/batch-writer.js";
import { FlashLog } from "../modules/storage/flash-log.js";
import { startGateway } from "../hosts/gateway/gateway.js";
import { createLogger } from "../hosts/log/logger.js";
import { NorFlash } from "../simulator/storage/nor-flash.js";
import { VirtualClock } from "../simulator/engine/host-clock.js";
import { SimulatedDevice, HOST_SLOT_BYTES } from "../simulator/engine/simulated-device.js";
import { loadDeviceBundle, SIM_FLASH } from "../simulator/fleet.js";
import { attachSensorModel } from "../simulator/sensors/sensor-models.js";
import { StaticRegistry } from "../hosts/gateway/ingest/sensor-registry.js";
import { PARTS, asJson, sample } from "./samples.js";

const SECONDS_PER_YEAR = 365.25 * 24 * 3600;
const ERASE_CYCLES = 100_000;
/** XS on a 32-bit microcontroller (ESP32, RP2040): 16-byte slots. */
const BOARD_SLOT_BYTES = 16;
const HEAP_SECRET = "bench-heap-secret-0123456789";

/**
 * Appends `count` samples to a log, `perBatch` to a record (1: a record per
 * sample), and returns the flash it used per sample, framing and block
 * headers included, and the log itself.
 */
function logSamples(part: string, count: number, perBatch: number, blocks: number, release: boolean) {
  const chip = new NorFlash({ blockSize: SIM_FLASH.blockSize, blocks });
  const log = FlashLog.mount(chip, { policy: "drop-oldest" });
  const cursor = log.cursor();
  const scratch = new Uint8Array(255);
  const free = log.bytesFree;
  const batch = new BatchWriter();
  const flush = () => {
    log.append(batch.finish());
    if (release) {
      // The gateway acknowledged it: the uplink releases it, as on a connected device.
      log.next(cursor, scratch);
      log.release(cursor.position);
    }
  };
  for (let n = 0; n < count; n++) {
    if (!batch.add(sample(part, n))) {
      flush();
      batch.add(sample(part, n));
    }
    if (batch.count >= perBatch) flush();
  }
  if (batch.count > 0) flush();
  // Space used is only meaningful while nothing was released (and so nothing reclaimed).
  return { bytesPerSample: release ? NaN : (free - log.bytesFree) / count, log };
}

export interface FlashBytesFigure { part: string; flashBytes: number; singleRecordBytes: number; jsonBytes: number; ratio: number }

export function flashBytesFigures(): FlashBytesFigure[] {
  const samples = 3600;
  return Object.keys(PARTS).map((part) => {
    // A batch closes after 10 s at one sample a second (batchMaxAgeMs default), or earlier when full.
    const batched = logSamples(part, samples, 10, 256, false).bytesPerSample;
    const single = logSamples(part, samples, 1, 256, false).bytesPerSample;
    let json = 0;
    for (let n = 0; n < samples; n++) json += new TextEncoder().encode(asJson(sample(part, n))).byteLength;
    const jsonBytes = json / samples;
    return { part, flashBytes: batched, singleRecordBytes: single, jsonBytes, ratio: batched / jsonBytes };
  });
}

export interface FlashLifeFigure { perBatch: number; erasesPerBlockPerYear: number; years: number }

/** Wear on the 64 KB partition of a simulated device, at one sample a second, the gateway acknowledging. */
export function flashLifeFigures(): FlashLifeFigure[] {
  const samples = 200_000;
  return [10, 1].map((perBatch) => {
    const { log } = logSamples("tmp117", samples, perBatch, SIM_FLASH.blocks, true);
    const worst = Math.max(...log.stats().eraseCounts);
    const perYear = (worst / samples) * SECONDS_PER_YEAR;
    return { perBatch, erasesPerBlockPerYear: perYear, years: ERASE_CYCLES / perYear };
  });
}

export interface HeapFigure { afterBootSlots: number; afterSamplesSlots: number; samples: number; ratio: number; stored: number }

/** The device bundle on XS, virtual time, against a real gateway: the heap must not grow with samples. */
export async function heapFigure(samples = 10_000): Promise<HeapFigure> {
  const dir = mkdtempSync(join(tmpdir(), "xsedge-bench-heap-"));
  const logger = createLogger({ component: "bench", level: "error" });
  // The device is registered, so its observations really flow (and leave its flash log) as on a connected device.
  const registry = new StaticRegistry([{ sensorId: "bench-1", secret: HEAP_SECRET }]);
  const gateway = await startGateway({ mqttHost: "127.0.0.1", mqttPort: 0, httpPort: null, dataDir: join(dir, "gateway"), cloudUrl: "http://127.0.0.1:9", registry, logger });
  const clock = new VirtualClock(Date.now());
  const device = new SimulatedDevice({
    name: "bench-heap",
    bundle: loadDeviceBundle(),
    clock,
    logger,
    flash: { [SIM_FLASH.partition]: new NorFlash({ blockSize: SIM_FLASH.blockSize, blocks: SIM_FLASH.blocks }) },
    config: { sensorId: "bench-1", secret: HEAP_SECRET, sensor: "bme280", gatewayAddress: "127.0.0.1", gatewayPort: gateway.mqttPort!, samplePeriodMs: 1000 },
  });
  attachSensorModel(device.i2c, "bme280", 1, () => clock.now());
  try {
    await device.start();
    // Let it connect: real sockets, so real time.
    for (let i = 0; i < 200 && gateway.stats().mqttClients === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await clock.advance(10_000);
    const afterBootSlots = await device.collectGarbage();
    for (let done = 10; done < samples; done += 10) {
      await clock.advance(10_000);
      // Wait (bounded) for the gateway to keep up, so the log stays near empty as on a connected device.
      for (let i = 0; i < 500 && gateway.stats().ingest.stored < done - 20; i++) await new Promise((r) => setImmediate(r));
    }
    const afterSamplesSlots = await device.collectGarbage();
    return { afterBootSlots, afterSamplesSlots, samples, ratio: afterSamplesSlots / afterBootSlots, stored: gateway.stats().ingest.stored };
  } finally {
    await device.stop();
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export { BOARD_SLOT_BYTES, HOST_SLOT_BYTES };
