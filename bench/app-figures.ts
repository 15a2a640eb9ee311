/*
 * What the device runtime costs an app, against the built-in app as it was
 * before the runtime (commit BASELINE_COMMIT, "today's" app when issue 2.3
 * began), measured in the same run:
 *  - the XS heap after boot (10 samples, then a full collection);
 *  - the bytes of its ES module bundle (what mcconfig compiles);
 *  - compute per sample: xsnap's compute meter over 100 samples (the
 *    sampling, batching, flash writes, publishes and acks they cause), /100.
 *
 * The baseline is built here from git history: its modules and simulator
 * host are checked out of that commit into a temporary directory, compiled
 * with this repository's tsc and bundled with that commit's own rollup
 * configuration, so the comparison is with the code as it was, not with a
 * figure written down once. Each app runs the same way: one simulated device
 * with a TMP117 register model, a sample a second on a virtual clock,
 * publishing to a real gateway on 127.0.0.1. The template app's driver is
 * the Moddable SDK's, which the simulator runs only with $MODDABLE; here its
 * value-level stand-in runs instead, so its figures are the runtime's and the
 * app's, not the SDK driver's.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { rollup, type RollupOptions } from "@rollup/wasm-node";
import { startGateway, type Gateway } from "../hosts/gateway/gateway.js";
import { StaticRegistry } from "../hosts/gateway/ingest/sensor-registry.js";
import { createLogger } from "../hosts/log/logger.js";
import { writeProject } from "../hosts/cli/new-project.js";
import { VirtualClock } from "../simulator/engine/host-clock.js";
import { SimulatedDevice } from "../simulator/engine/simulated-device.js";
import { loadDeviceBundle, SIM_FLASH } from "../simulator/fleet.js";
import { NorFlash } from "../simulator/storage/nor-flash.js";
import { Tmp117Model } from "../simulator/sensors/tmp117-model.js";
import { loadApp } from "../simulator/app/load-app.js";
import { peerProgram } from "../tests/support/peer-programs.js";
import { startAppFleet, stopAppFleet } from "../simulator/app/app-fleet.js";

/** The last commit before the device runtime: the built-in app as one fixed application. */
export const BASELINE_COMMIT = process.env.XSEDGE_BENCH_BASELINE ?? "50cffc581b4b1a799e4dd1adb44882e86df8d2b1";
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const SAMPLES = 100;
const SECRET = "bench-secret-1";

export interface AppFigure {
  app: string;
  heapAfterBootSlots: number;
  bundleBytes: number;
  computePerSample: number;
  observations: number;
}

export interface AppFigures {
  baseline: AppFigure | { app: string; unavailable: string };
  builtin: AppFigure;
  template: AppFigure;
}

/** The baseline's ES module and simulator script, built from git history; throws saying why it cannot be. */
async function baselineBundles(dir: string): Promise<{ esm: string; script: string }> {
  const paths = ["modules", "simulator/xs-host", "rollup.config.js", "tsconfig.base.json", "package.json"];
  const archive = execFileSync(peerProgram("git"), ["-C", REPO, "archive", BASELINE_COMMIT, ...paths], { maxBuffer: 64 * 1024 * 1024 });
  execFileSync(peerProgram("tar"), ["x", "-C", dir], { input: archive });
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"), "dir");
  const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
  for (const project of ["modules", "simulator/xs-host"]) execFileSync(process.execPath, [tsc, "-p", join(dir, project)], { cwd: dir, stdio: "pipe" });
  const configs = (await import(pathToFileURL(join(dir, "rollup.config.js")).href)).default as RollupOptions[];
  const build = async (config: RollupOptions, format: "es" | "iife") => {
    const bundle = await rollup({ ...config, onwarn: () => {} });
    try {
      return (await bundle.generate({ format, sourcemap: false })).output[0].code;
    } finally {
      await bundle.close();
    }
  };
  // Its first two outputs are the mcconfig module and the simulator script; the rest (desktop stand-ins) are not needed.
  return { esm: await build(configs[0], "es"), script: await build(configs[1], "iife") };
}

/** Runs `start`'s device for 10 samples (heap after boot), then SAMPLES more (compute per sample). */
async function measure(app: string, bundleBytes: number, gateway: Gateway, clock: VirtualClock, device: () => SimulatedDevice): Promise<AppFigure> {
  const settle = async () => {
    await device().idle();
    await new Promise((resolve) => setTimeout(resolve, 2));
  };
  for (let i = 0; i < 500 && gateway.stats().mqttClients === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  for (let s = 0; s < 10; s++) {
    await clock.advance(1000);
    await settle();
  }
  const heapAfterBootSlots = await device().collectGarbage();
  const before = device().stats().compute;
  for (let s = 0; s < SAMPLES; s++) {
    await clock.advance(1000);
    await settle();
  }
  const computePerSample = (device().stats().compute - before) / SAMPLES;
  return { app, heapAfterBootSlots, bundleBytes, computePerSample, observations: gateway.stats().ingest.stored };
}

async function withGateway<T>(work: (gateway: Gateway) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "xsedge-bench-apps-"));
  const logger = createLogger({ component: "bench", level: "error" });
  const gateway = await startGateway({
    mqttHost: "127.0.0.1", mqttPort: 0, httpPort: null, dataDir: dir, cloudUrl: "http://127.0.0.1:9", logger,
    registry: new StaticRegistry([{ sensorId: "bench-1", secret: SECRET }]),
  });
  try {
    return await work(gateway);
  } finally {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A built-in app (today's script, or the baseline's) on one device with a TMP117. */
function builtinDevice(script: string, gateway: Gateway, clock: VirtualClock): SimulatedDevice {
  const device = new SimulatedDevice({
    name: "bench-1", bundle: script, clock,
    flash: { [SIM_FLASH.partition]: new NorFlash({ blockSize: SIM_FLASH.blockSize, blocks: SIM_FLASH.blocks }) },
    config: { sensorId: "bench-1", secret: SECRET, sensor: "tmp117", gatewayAddress: "127.0.0.1", gatewayPort: gateway.mqttPort!, samplePeriodMs: 1000 },
  });
  device.i2c.attach(0x48, new Tmp117Model({ temperature: () => 21.5 }));
  return device;
}

async function builtinFigure(app: string, esmBytes: number, script: string): Promise<AppFigure> {
  return withGateway(async (gateway) => {
    const clock = new VirtualClock(Date.now());
    const device = builtinDevice(script, gateway, clock);
    try {
      await device.start();
      return await measure(app, esmBytes, gateway, clock, () => device);
    } finally {
      await device.stop();
    }
  });
}

async function templateFigure(): Promise<AppFigure> {
  const dir = mkdtempSync(join(tmpdir(), "xsedge-bench-template-"));
  try {
    const project = join(dir, "app");
    writeProject(project, { name: "bench-app", xsedge: "file:" + REPO });
    mkdirSync(join(project, "node_modules", "@moddable"), { recursive: true });
    symlinkSync(REPO, join(project, "node_modules", "xsedge"), "dir");
    symlinkSync(join(REPO, "node_modules", "typescript"), join(project, "node_modules", "typescript"), "dir");
    symlinkSync(join(REPO, "node_modules", "@moddable", "typings"), join(project, "node_modules", "@moddable", "typings"), "dir");
    const app = await loadApp(project, { moddable: "" });
    const bytes = statSync(app.project.bundle).size;
    return await withGateway(async (gateway) => {
      const clock = new VirtualClock(Date.now());
      const fleet = await startAppFleet({ app, count: 1, idPrefix: "bench", gatewayAddress: "127.0.0.1", gatewayPort: gateway.mqttPort!, clock, secretFor: () => SECRET, config: { samplePeriodMs: 1000 } });
      try {
        return await measure("xsedge new template", bytes, gateway, clock, () => fleet[0].device);
      } finally {
        await stopAppFleet(fleet);
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function appFigures(): Promise<AppFigures> {
  const builtinBytes = statSync(join(REPO, "build/moddable/main.js")).size;
  const builtin = await builtinFigure("built-in app", builtinBytes, loadDeviceBundle());
  const template = await templateFigure();
  const dir = mkdtempSync(join(tmpdir(), "xsedge-bench-baseline-"));
  let baseline: AppFigures["baseline"];
  try {
    const { esm, script } = await baselineBundles(dir);
    baseline = await builtinFigure(`built-in app of ${BASELINE_COMMIT.slice(0, 7)}`, Buffer.byteLength(esm), script);
  } catch (e) {
    baseline = { app: `built-in app of ${BASELINE_COMMIT.slice(0, 7)}`, unavailable: (e as Error).message.split("\n")[0] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { baseline, builtin, template };
}
