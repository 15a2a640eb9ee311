/*
 * The simulator's figures, against today's one-worker-per-device design
 * measured in the same run: how many devices each design sustains in real
 * time (sampling once a second, against a real gateway in a process of its
 * own), and what a device costs in memory and CPU.
 *
 * Each level (a design and a number of devices) runs in a child process of
 * its own (bench/fleet/fleet-level.ts) beside a fresh gateway
 * (bench/gateway/server-process.ts): it boots, settles, then for a window
 * the gateway's stored observations are counted. A level is sustained when
 * the gateway stored at least SUSTAINED_SHARE of what the devices sample in
 * that window (and, for the fleet, its timers were late by under a second
 * at the 99th percentile). Levels climb until one is not sustained. The
 * machine is shared (other work runs on its two cores): the figures are as
 * of this run, and the ratio of the two designs is the one to read.
 */
import { fork, type ChildProcess } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import type { LevelPlan, LevelReading } from "./fleet/fleet-level.js";
import type { ServerStats } from "./gateway/server-process.js";
import { nextReply } from "./child-reply.js";

const LEVEL = fileURLToPath(new URL("./fleet/fleet-level.js", import.meta.url));
const SERVER = fileURLToPath(new URL("./gateway/server-process.js", import.meta.url));
const SECRET = "bench-fleet-secret-0123";
/**
 * Devices of both designs are switched on evenly over one batch age (the
 * built-in app's 10 s): their batches then reach the gateway spread over
 * time, as a real fleet's do, rather than all in one instant, which would
 * make the stored count of a window depend on where its ends fall.
 */
export const BOOT_SPREAD_MS = 10_000;
/** Stored over sampled for a level to count as sustained. */
export const SUSTAINED_SHARE = 0.95;
/** Timers may fire this late (99th percentile) in a sustained fleet. */
export const SUSTAINED_LATENESS_MS = 1000;
/** After boot: every device connected and past its first batch (10 s) before the window. */
const SETTLE_MS = 20_000;
/** A fleet settles further until its timers are on time (a boot storm of thousands of connects has passed), up to this long. */
const SETTLE_MAX_MS = 120_000;
const SETTLE_POLL_MS = 5_000;
const WINDOW_MS = 20_000;
/** Bounds every exchange with a child (a boot of ten thousand devices included). */
const CHILD_TIMEOUT_MS = 600_000;

export const BASELINE_LEVELS = [10, 25, 50, 100] as const;
/** From the baseline's own range up to the goal, so both designs are measured at a level they share. */
export const FLEET_LEVELS = [100, 250, 500, 1000, 2500, 5000, 10_000] as const;

export interface LevelFigure {
  design: "fleet" | "baseline";
  devices: number;
  workers: number;
  /** Observations the gateway stored per second of the window, over those the devices sampled. */
  storedShare: number;
  lateP99Ms: number | null;
  sustained: boolean;
  memoryPerDeviceBytes: number;
  cpuPerDeviceSecondUs: number;
  gatewayCpuShare: number;
}

export interface FleetFigures {
  levels: LevelFigure[];
  cores: number;
  /** Most devices each design sustained (0: not even its first level). */
  baselineSustained: number;
  fleetSustained: number;
  /** At each design's largest sustained level (or its first, when none was). */
  baselineMemoryPerDeviceBytes: number;
  fleetMemoryPerDeviceBytes: number;
  baselineCpuPerDeviceSecondUs: number;
  fleetCpuPerDeviceSecondUs: number;
  /**
   * Devices this machine's cores would carry were they free, from the CPU
   * per device-second measured (the design's and its gateway's): a bound
   * that other work on a shared machine does not move as much as it moves
   * the devices sustained.
   */
  baselineProjected: number;
  fleetProjected: number;
  /** The machine's load average (1 min) when the levels were done: other work shares the cores. */
  loadAverage: number;
}

function next<T>(child: ChildProcess, what: string, accept: (message: any) => T | undefined): Promise<T> {
  return nextReply(child, what, accept, CHILD_TIMEOUT_MS);
}

async function stop(child: ChildProcess, what: string): Promise<void> {
  const stopped = next(child, `${what} stop`, (m) => (m?.stopped ? true : undefined)).catch(() => child.kill("SIGKILL"));
  child.send({ type: "stop" });
  await stopped;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one level: a gateway, the devices, a settle, a window. */
export async function measureLevel(design: "fleet" | "baseline", devices: number): Promise<LevelFigure> {
  const prefix = `${design}-dev`;
  const gateway = fork(SERVER, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let level: ChildProcess | undefined;
  try {
    const ready = next(gateway, "gateway start", (m) => (typeof m?.port === "number" ? (m.port as number) : undefined));
    gateway.send({ kind: "gateway", prefix, devices, secret: SECRET });
    const port = await ready;
    const gatewayStats = async () => {
      const reply = next(gateway, "gateway stats", (m) => (typeof m?.rss === "number" ? (m as ServerStats) : undefined));
      gateway.send({ type: "stats", gateway: true });
      const stats = await reply;
      return { cpuMs: stats.cpuMs, stored: (stats.stats as { ingest: { stored: number } }).ingest.stored };
    };
    level = fork(LEVEL, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const booted = next(level, `${design} ${devices} boot`, (m) => (m?.booted ? true : undefined));
    const plan: LevelPlan = { design, devices, port, prefix, secret: SECRET, bootSpreadMs: BOOT_SPREAD_MS };
    level.send(plan);
    await booted;
    const measure = async () => {
      const reply = next(level!, `${design} reading`, (m) => (m?.reading ? (m.reading as LevelReading) : undefined));
      level!.send({ type: "measure" });
      return reply;
    };
    await sleep(SETTLE_MS);
    if (design === "fleet") {
      // Each reading resets the lateness it reports: two on time in a row and the fleet has settled.
      let onTime = 0;
      await measure();
      for (const until = Date.now() + SETTLE_MAX_MS; onTime < 2 && Date.now() < until;) {
        await sleep(SETTLE_POLL_MS);
        const late = (await measure()).lateP99Ms ?? 0;
        onTime = late <= SUSTAINED_LATENESS_MS ? onTime + 1 : 0;
      }
    }
    const [fromLevel, fromGateway] = [await measure(), await gatewayStats()];
    const started = Date.now();
    await sleep(WINDOW_MS);
    const [toLevel, toGateway] = [await measure(), await gatewayStats()];
    const seconds = (Date.now() - started) / 1000;
    const storedShare = (toGateway.stored - fromGateway.stored) / (devices * seconds);
    const lateP99Ms = toLevel.lateP99Ms;
    const cpu = toLevel.cpuMs - fromLevel.cpuMs;
    const gatewayCpu = toGateway.cpuMs - fromGateway.cpuMs;
    return {
      design,
      devices,
      workers: toLevel.workers,
      storedShare,
      lateP99Ms,
      sustained: storedShare >= SUSTAINED_SHARE && (lateP99Ms === null || lateP99Ms <= SUSTAINED_LATENESS_MS),
      memoryPerDeviceBytes: toLevel.rssBytes / devices,
      cpuPerDeviceSecondUs: (cpu * 1000) / (devices * seconds),
      gatewayCpuShare: gatewayCpu / (cpu + gatewayCpu),
    };
  } finally {
    if (level) await stop(level, `${design} ${devices}`);
    await stop(gateway, "gateway");
  }
}

/** Climbs each design's levels until one is not sustained. `onLevel` hears each as it is measured. */
export async function fleetFigures(options: { baselineLevels?: readonly number[]; fleetLevels?: readonly number[]; onLevel?: (figure: LevelFigure) => void } = {}): Promise<FleetFigures> {
  const levels: LevelFigure[] = [];
  const climb = async (design: "fleet" | "baseline", counts: readonly number[]) => {
    for (const devices of counts) {
      const figure = await measureLevel(design, devices);
      levels.push(figure);
      options.onLevel?.(figure);
      if (!figure.sustained) break;
    }
  };
  await climb("baseline", options.baselineLevels ?? BASELINE_LEVELS);
  await climb("fleet", options.fleetLevels ?? FLEET_LEVELS);
  const best = (design: string) => {
    const of = levels.filter((l) => l.design === design);
    const sustained = of.filter((l) => l.sustained);
    return sustained.length > 0 ? sustained[sustained.length - 1] : of[0];
  };
  const baseline = best("baseline");
  const fleet = best("fleet");
  const most = (design: string) => Math.max(0, ...levels.filter((l) => l.design === design && l.sustained).map((l) => l.devices));
  const cores = availableParallelism();
  // The gateway's CPU comes on top of the devices': its share of the two is gatewayCpuShare.
  const projected = (l: LevelFigure) => Math.floor((cores * 1e6 * (1 - l.gatewayCpuShare)) / l.cpuPerDeviceSecondUs);
  return {
    levels,
    cores,
    baselineProjected: projected(baseline),
    fleetProjected: projected(fleet),
    baselineSustained: most("baseline"),
    fleetSustained: most("fleet"),
    baselineMemoryPerDeviceBytes: baseline.memoryPerDeviceBytes,
    fleetMemoryPerDeviceBytes: fleet.memoryPerDeviceBytes,
    baselineCpuPerDeviceSecondUs: baseline.cpuPerDeviceSecondUs,
    fleetCpuPerDeviceSecondUs: fleet.cpuPerDeviceSecondUs,
    loadAverage: loadavg()[0],
  };
}

/** The figures as bench/RESULTS.md shows them. */
export function fleetFiguresMarkdown(f: FleetFigures): string[] {
  const kib = (bytes: number) => `${(bytes / 1024).toLocaleString("en", { maximumFractionDigits: 0 })} KiB`;
  const us = (n: number) => `${n.toLocaleString("en", { maximumFractionDigits: 0 })} µs`;
  const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}×` : "–");
  return [
    `Simulated devices sampling once a second (TMP117, SHT3x and BME280 in turn, the built-in app, batches of 10 s) against the real gateway in a process of its own, each level in a fresh process beside a fresh gateway, its devices switched on evenly over ${BOOT_SPREAD_MS / 1000} s (so their batches do not all land at once); a level is sustained when the gateway stored ${SUSTAINED_SHARE * 100}% of what was sampled over a ${WINDOW_MS / 1000} s window (and, for the fleet, timers fired less than ${SUSTAINED_LATENESS_MS} ms late at the 99th percentile). Levels climb until one is not sustained. Baseline: one xsnap-worker per device, the design before the fleet. Load average at the end: ${f.loadAverage.toFixed(1)} on ${f.cores} cores (other work shares them; the ratios are the figures to read).`,
    "",
    "| design | devices | workers | stored / sampled | timers late, p99 | memory per device | CPU per device-second | gateway's share of CPU | sustained |",
    "|---|---|---|---|---|---|---|---|---|",
    ...f.levels.map((l) => `| ${l.design === "fleet" ? "fleet" : "one worker per device"} | ${l.devices.toLocaleString("en")} | ${l.workers} | ${l.storedShare.toFixed(2)} | ${l.lateP99Ms === null ? "–" : `${l.lateP99Ms} ms`} | ${kib(l.memoryPerDeviceBytes)} | ${us(l.cpuPerDeviceSecondUs)} | ${(100 * l.gatewayCpuShare).toFixed(0)}% | ${l.sustained ? "✓" : "✗"} |`),
    "",
    "| | one worker per device | fleet | fleet / baseline | goal |",
    "|---|---|---|---|---|",
    `| devices sustained in real time | ${f.baselineSustained.toLocaleString("en")} | **${f.fleetSustained.toLocaleString("en")}** | ${ratio(f.fleetSustained, f.baselineSustained)} | 10,000 (≥ 1,000) ${f.fleetSustained >= 10_000 ? "✓" : f.fleetSustained >= 1000 ? "(≥ 1,000 ✓)" : "✗"} |`,
    `| memory per device | ${kib(f.baselineMemoryPerDeviceBytes)} | **${kib(f.fleetMemoryPerDeviceBytes)}** | ${ratio(f.baselineMemoryPerDeviceBytes, f.fleetMemoryPerDeviceBytes)} less | — |`,
    `| CPU per device-second (devices, not the gateway) | ${us(f.baselineCpuPerDeviceSecondUs)} | **${us(f.fleetCpuPerDeviceSecondUs)}** | ${ratio(f.baselineCpuPerDeviceSecondUs, f.fleetCpuPerDeviceSecondUs)} less | — |`,
    `| devices ${f.cores} free cores would carry, from that CPU | ${f.baselineProjected.toLocaleString("en")} | ${f.fleetProjected.toLocaleString("en")} | ${ratio(f.fleetProjected, f.baselineProjected)} | — |`,
  ];
}

/** `node dist/bench/fleet-figures.js [baseline levels] [fleet levels]`, e.g. `10,25 1000,5000`: the figures alone, as JSON. */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const parse = (arg: string | undefined) => arg?.split(",").map(Number);
  const figures = await fleetFigures({
    baselineLevels: parse(process.argv[2]),
    fleetLevels: parse(process.argv[3]),
    onLevel: (f) => process.stderr.write(`${JSON.stringify(f)}\n`),
  });
  process.stdout.write(JSON.stringify(figures, null, 2) + "\n");
}
