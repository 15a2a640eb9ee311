/*
 * The gateway's figures, each against baselines measured in the same run:
 * - durable ingest (committed to SQLite, then acknowledged) with 1, 100 and
 *   1,000 devices, beside Debian's mosquitto 2 with persistence on (a C
 *   broker whose PUBACK means "in memory") and bare aedes QoS 1, and beside
 *   the gateway's own MQTT listener with nothing stored (what MQTT alone
 *   costs it);
 * - the gateway's resident memory with 1,000 devices.
 *
 * Every server and the load generator run in processes of their own
 * (bench/gateway/), so the machine's cores are shared out the same way for
 * each. The machine may be shared with other work, so each figure is the
 * median of ROUNDS rounds, and in each round every server runs once, in an
 * order that rotates from round to round; ratios are taken within a round
 * (a baseline and the gateway measured minutes apart would compare the
 * machine's load, not the servers) and their median reported.
 */
import { fork, type ChildProcess } from "node:child_process";
import { percentile, type LoadPlan, type LoadResult } from "./gateway/load-generator.js";
import { mosquittoMissing } from "./gateway/mosquitto-server.js";
import type { ServerPlan, ServerStats } from "./gateway/server-process.js";
import { nextReply } from "./child-reply.js";

const SERVER = new URL("./gateway/server-process.js", import.meta.url);
const LOAD = new URL("./gateway/load-generator.js", import.meta.url);
export const SECRET = "bench-secret-0123456789";
/** Bounds every exchange with a child, so a wedged run fails instead of hanging the benchmark. */
const CHILD_TIMEOUT_MS = 120_000;
/** In-flight publishes shared out among the devices of a throughput run: 1,000 for one device, 1 each for 1,000. */
const TOTAL_WINDOW = 1000;
export const DEVICE_COUNTS = [1, 100, 1000] as const;
/** Rounds per figure (XSEDGE_BENCH_ROUNDS overrides): three give a median that one slow moment cannot move. */
export const ROUNDS = Math.max(1, Number(process.env.XSEDGE_BENCH_ROUNDS ?? 3) || 3);
const WARMUP_MS = 2000;
const MEASURE_MS = 4000;

export const INGEST_KINDS = ["mosquitto", "aedes", "gateway", "listener"] as const;
export type IngestKind = (typeof INGEST_KINDS)[number];

function next<T>(child: ChildProcess, what: string, accept: (message: any) => T | undefined): Promise<T> {
  return nextReply(child, what, accept, CHILD_TIMEOUT_MS);
}

export interface Server {
  port: number;
  /** Memory and CPU; the gateway's own stats and the latencies only when asked for (they cost the server more). */
  stats(include?: { gateway?: boolean; latencies?: boolean }): Promise<ServerStats>;
  stop(): Promise<void>;
}

export async function startServer(plan: ServerPlan): Promise<Server> {
  // XSEDGE_BENCH_CPU_PROF=<dir>: each gateway's CPU profile (as in the rules area), for finding where its event loop goes.
  const profile = process.env.XSEDGE_BENCH_CPU_PROF && plan.kind === "gateway" ? ["--cpu-prof", `--cpu-prof-dir=${process.env.XSEDGE_BENCH_CPU_PROF}`] : [];
  const child = fork(SERVER, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], ...(profile.length > 0 ? { execArgv: [...process.execArgv, ...profile] } : {}) });
  const ready = next(child, `${plan.kind} start`, (m) => (typeof m?.port === "number" ? (m.port as number) : undefined));
  child.send(plan);
  const port = await ready;
  return {
    port,
    async stats(include = {}) {
      const reply = next(child, `${plan.kind} stats`, (m) => (typeof m?.rss === "number" ? (m as ServerStats) : undefined));
      child.send({ type: "stats", ...include });
      return reply;
    },
    async stop() {
      const stopped = next(child, `${plan.kind} stop`, (m) => (m?.stopped ? true : undefined)).catch(() => child.kill("SIGKILL"));
      child.send({ type: "stop" });
      await stopped;
    },
  };
}

/** What to do meanwhile in a load run: halfway through its measuring interval, and at its start and end. */
interface DuringLoad {
  halfway?: () => Promise<void>;
  start?: () => Promise<void>;
  end?: () => Promise<void>;
}

/** Runs the load, calling `during`'s hooks (to sample the server) as it measures. */
export async function runLoad(plan: LoadPlan, during: DuringLoad = {}): Promise<LoadResult> {
  const child = fork(LOAD, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const sampled: Promise<void>[] = [];
  child.on("message", (m: any) => {
    if (m?.measuring) {
      if (during.start) sampled.push(during.start());
      if (during.halfway) sampled.push(new Promise((r) => setTimeout(r, plan.measureMs / 2)).then(during.halfway));
    }
    if (m?.measured && during.end) sampled.push(during.end());
  });
  const result = next(child, "load", (m) => m?.result as LoadResult | undefined);
  child.send(plan);
  const value = await result;
  await Promise.all(sampled);
  return value;
}

export interface IngestRun {
  kind: IngestKind;
  result: LoadResult;
  /** The server's CPU time (all its threads) while measuring, per observation acknowledged meanwhile, µs. */
  cpuUs: number;
  /** Resident memory halfway through measuring, bytes. */
  rss: number;
  /** The gateway's stats at the end (group commits and the like); gateway only. */
  stats?: unknown;
}

export async function measureIngest(kind: IngestKind, devices: number, window: number): Promise<IngestRun> {
  const prefix = `bench${devices}`;
  const server = await startServer({ kind, prefix, devices, secret: SECRET });
  let rss = 0;
  let cpuFrom = 0;
  let cpuTo = 0;
  try {
    const result = await runLoad(
      { port: server.port, devices, mode: "throughput", window, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, prefix, secret: SECRET, firstSeq: 1 },
      {
        start: async () => void (cpuFrom = (await server.stats()).cpuMs),
        halfway: async () => void (rss = (await server.stats()).rss),
        end: async () => void (cpuTo = (await server.stats()).cpuMs),
      },
    );
    const stats = kind === "gateway" ? (await server.stats({ gateway: true })).stats : undefined;
    return { kind, result, rss, stats, cpuUs: ((cpuTo - cpuFrom) * 1000) / result.acked };
  } finally {
    await server.stop();
  }
}

export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite);
  return finite.length === 0 ? NaN : percentile([...finite], 0.5);
}

/** One server's figures over the rounds: each the median of its rounds. */
export interface KindFigure {
  ackedPerSecond: number;
  cpuUs: number;
  rss: number;
  generatorCpu: number;
  runs: IngestRun[];
}

export interface IngestFigure {
  devices: number;
  window: number;
  rounds: number;
  /** Absent: the server could not run here (mosquitto not installed; see `missing`). */
  kinds: Partial<Record<IngestKind, KindFigure>>;
  /** Median over rounds of the gateway's CPU per observation / mosquitto's, each pair from one round. */
  cpuRatioToMosquitto: number;
  /** Median over rounds of the gateway's acknowledged rate / bare aedes's. */
  rateRatioToAedes: number;
  /** Why mosquitto was not measured. */
  missing?: string;
}

function kindFigure(runs: IngestRun[]): KindFigure {
  return {
    ackedPerSecond: median(runs.map((r) => r.result.ackedPerSecond)),
    cpuUs: median(runs.map((r) => r.cpuUs)),
    rss: median(runs.map((r) => r.rss)),
    generatorCpu: median(runs.map((r) => r.result.generatorCpu)),
    runs,
  };
}

export async function ingestFigures(counts: readonly number[] = DEVICE_COUNTS, rounds = ROUNDS, kinds: readonly IngestKind[] = INGEST_KINDS): Promise<IngestFigure[]> {
  const missing = mosquittoMissing();
  const measured = kinds.filter((k) => !(k === "mosquitto" && missing));
  const figures: IngestFigure[] = [];
  for (const devices of counts) {
    const window = Math.max(1, Math.round(TOTAL_WINDOW / devices));
    const runs = new Map<IngestKind, IngestRun[]>(measured.map((k) => [k, []]));
    const cpuRatios: number[] = [];
    const rateRatios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = measured.map((_, i) => measured[(i + round) % measured.length]);
      const byKind = new Map<IngestKind, IngestRun>();
      for (const kind of order) byKind.set(kind, await measureIngest(kind, devices, window));
      for (const [kind, run] of byKind) runs.get(kind)!.push(run);
      const gateway = byKind.get("gateway");
      if (gateway && byKind.get("mosquitto")) cpuRatios.push(gateway.cpuUs / byKind.get("mosquitto")!.cpuUs);
      if (gateway && byKind.get("aedes")) rateRatios.push(gateway.result.ackedPerSecond / byKind.get("aedes")!.result.ackedPerSecond);
    }
    figures.push({
      devices,
      window,
      rounds,
      kinds: Object.fromEntries([...runs].map(([kind, kindRuns]) => [kind, kindFigure(kindRuns)])),
      cpuRatioToMosquitto: median(cpuRatios),
      rateRatioToAedes: median(rateRatios),
      ...(missing && kinds.includes("mosquitto") ? { missing } : {}),
    });
  }
  return figures;
}

