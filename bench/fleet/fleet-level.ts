/*
 * One level of the simulator benchmark in a process of its own (forked by
 * bench/fleet-figures.ts): `devices` simulated devices of one design
 * sampling once a second against the gateway at `port`, so what it costs
 * (this process and its xsnap-workers) is its own:
 * - "fleet": the fleet engine, many devices per worker (simulator/fleet.ts);
 * - "baseline": one xsnap-worker per device, today's design before the fleet
 *   (simulator/engine/simulated-device.ts).
 *
 * Messages to the parent: {booted}, then on {type: "measure"} a reading
 * {cpuMs, rssBytes, workers, lateP99Ms} (taken at the start and at the end of
 * the parent's window), and on {type: "stop"} {stopped}.
 */
import { readFileSync } from "node:fs";
import { RealClock } from "../../simulator/engine/host-clock.js";
import { SimulatedDevice } from "../../simulator/engine/simulated-device.js";
import { fleetEngine, loadDeviceBundle, SIM_FLASH, startFleet, stopFleet, type SimulatedSensor } from "../../simulator/fleet.js";
import { attachSensorModel } from "../../simulator/sensors/sensor-models.js";
import { NorFlash } from "../../simulator/storage/nor-flash.js";
import { SENSOR_ROTATION } from "../../simulator/fleet.js";
import { cpuTimeMs } from "../../hosts/proc/process-cpu.js";

export interface LevelPlan {
  design: "fleet" | "baseline";
  devices: number;
  port: number;
  prefix: string;
  secret: string;
  /** The devices are switched on evenly over this long (fleet-figures.ts's BOOT_SPREAD_MS says why). */
  bootSpreadMs: number;
}

export interface LevelReading {
  cpuMs: number;
  rssBytes: number;
  workers: number;
  /** Fleet only: how late timers fired since the last reading, 99th percentile. */
  lateP99Ms: number | null;
}

function processReading(pid: number | undefined): { cpuMs: number; rssBytes: number } {
  try {
    const cpuMs = cpuTimeMs(pid);
    if (cpuMs === undefined) throw new Error("gone");
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return { cpuMs, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
  } catch {
    return { cpuMs: 0, rssBytes: 0 };
  }
}

function self(): { cpuMs: number; rssBytes: number } {
  const { user, system } = process.cpuUsage();
  return { cpuMs: (user + system) / 1000, rssBytes: process.memoryUsage().rss };
}

async function startLevel(plan: LevelPlan): Promise<{ read(): LevelReading; stop(): Promise<void> }> {
  const config = { sensorId: "", gatewayAddress: "127.0.0.1", gatewayPort: plan.port, samplePeriodMs: 1000, secret: plan.secret, flashPartition: SIM_FLASH.partition };
  if (plan.design === "fleet") {
    const fleet: SimulatedSensor[] = await startFleet({
      count: plan.devices, gatewayAddress: "127.0.0.1", gatewayPort: plan.port, samplePeriodMs: 1000, idPrefix: plan.prefix, secretFor: () => plan.secret,
      bootSpreadMs: plan.bootSpreadMs,
    });
    const engine = fleetEngine(fleet);
    return {
      read: () => {
        const { cost } = engine.cost();
        return { ...sum([self(), ...engine.workers.map((w) => ({ cpuMs: w.cpuMs(), rssBytes: w.rssBytes() }))]), workers: cost.workers, lateP99Ms: engine.lateness(true).quantile(0.99) };
      },
      stop: () => stopFleet(fleet),
    };
  }
  const bundle = loadDeviceBundle();
  const devices: SimulatedDevice[] = [];
  const started = Date.now();
  for (let n = 1; n <= plan.devices; n++) {
    const due = started + (plan.bootSpreadMs * (n - 1)) / plan.devices - Date.now();
    if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    const sensorId = `${plan.prefix}-${n}`;
    const part = SENSOR_ROTATION[(n - 1) % SENSOR_ROTATION.length];
    const clock = new RealClock();
    const device = new SimulatedDevice({
      name: sensorId,
      bundle,
      clock,
      flash: { [SIM_FLASH.partition]: new NorFlash({ blockSize: SIM_FLASH.blockSize, blocks: SIM_FLASH.blocks }) },
      config: { ...config, sensorId, sensor: part },
    });
    attachSensorModel(device.i2c, part, n, () => clock.now());
    devices.push(device);
    await device.start();
  }
  return {
    read: () => ({ ...sum([self(), ...devices.map((d) => processReading(d.pid))]), workers: devices.length, lateP99Ms: null }),
    stop: async () => void (await Promise.all(devices.map((d) => d.stop()))),
  };
}

function sum(readings: Array<{ cpuMs: number; rssBytes: number }>): { cpuMs: number; rssBytes: number } {
  return readings.reduce((a, b) => ({ cpuMs: a.cpuMs + b.cpuMs, rssBytes: a.rssBytes + b.rssBytes }), { cpuMs: 0, rssBytes: 0 });
}

if (process.send) {
  process.once("message", (plan: LevelPlan) => {
    startLevel(plan).then((level) => {
      process.on("message", (message: { type: string }) => {
        if (message.type === "measure") process.send?.({ reading: level.read() });
        else if (message.type === "stop") level.stop().then(() => process.send?.({ stopped: true }, () => process.exit(0)));
      });
      process.send?.({ booted: true });
    }, (error: Error) => process.send?.({ error: error.message }, () => process.exit(1)));
  });
}
