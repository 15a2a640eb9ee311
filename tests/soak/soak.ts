/*
 * `npm run soak`: the long run behind the fault suite. A fleet of simulated
 * devices (the device bundle on XS, many per xsnap-worker) publishes to a
 * gateway (`xsedge gateway`, its own process) that relays to the reference
 * cloud (`xsedge cloud`) over Akka gRPC, registrations coming the same way,
 * for an hour by default; meanwhile the gateway is killed with SIGKILL and
 * restarted, and the cloud is killed and kept down for a while (an outage).
 * The resident memory of every process (cloud, gateway, the fleet's host,
 * each xsnap-worker) is sampled from /proc, the gateway's live JS heap (just
 * after its last major collection) from its /metrics, and each is judged by its trend
 * (memory-trend.ts), each run of a restarted process on its own and all its
 * runs together (each after its warm-up, and outside the outages and the
 * drains that follow them); at the end
 * the cloud must hold every device's observations without a gap.
 *
 *   npm run soak                                   1,000 devices, 60 minutes
 *   npm run soak -- --devices 100 --minutes 5 --kill-every 70 --outage-every 100 --outage 20
 *
 * Linux only (/proc). The fleet engine holds a device in under a MiB (an
 * xsnap-worker of its own would take some 45 MB), so 1,000 devices fit in
 * a few GB. Exit code 0 when no judged process is growing
 * (flat, or settled after a step) and nothing is missing at the cloud; the
 * report is printed and written as JSON.
 */
import Database from "better-sqlite3";
import { fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { freemem, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CLOUD_STORE_FILE } from "../../simulator/cloud/cloud-store.js";
import { envName, KEY_BY_PATH } from "../../hosts/gateway/config/schema.js";
import { oneAddressFleetLimits } from "../../hosts/gateway/ingest/listener-limits.js";
import { freePort } from "../support/test-helpers.js";
import { DEFAULT_TREND, judgeTrend, type MemorySample } from "./memory-trend.js";
import { answers, Managed, sleep, until } from "./managed-process.js";
import { printReport, type Report } from "./soak-report.js";
import { childrenOf, residentBytes } from "./proc-memory.js";

const XSEDGE = fileURLToPath(new URL("../../hosts/cli/xsedge.js", import.meta.url));
const FLEET = fileURLToPath(new URL("./fleet-process.js", import.meta.url));
const PREFIX = "soak";
const SECRET_PREFIX = "soak-secret-";
const MiB = 2 ** 20;
/** A relay at most this many observations per device behind has caught up (ten seconds at the default period). */
const DRAINED_PER_DEVICE = 10;
/**
 * How long the relay has after the fleet's last fault to bring the outbox down to DRAINED_PER_DEVICE: what is
 * still in it then has not reached the cloud, so a soak that ends with more fails rather than checking only the
 * cloud's prefix of each sensor.
 */
const DRAIN_LIMIT_MS = 180_000;

const { values } = parseArgs({
  options: {
    devices: { type: "string", default: "1000" },
    minutes: { type: "string", default: "60" },
    "period-ms": { type: "string", default: "1000" },
    "kill-every": { type: "string", default: "420" },
    "kill-down": { type: "string", default: "3" },
    "outage-every": { type: "string", default: "600" },
    outage: { type: "string", default: "60" },
    "sample-every": { type: "string", default: "10" },
    // The gateway reaches its working level in two to three minutes after a start (1,000 devices reconnecting,
    // V8 sizing its young and old generations to the load, SQLite's caches filling): in a 15-minute run without
    // faults its peaks per minute were 198, 227, 250, 249, 252, then 215–260 MiB to the end. A shorter warm-up
    // judges that ramp, which every 7-minute run between kills repeats, as growth.
    warmup: { type: "string", default: "180" },
    "data-dir": { type: "string" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(`Usage: npm run soak -- [options]

  --devices <n>         simulated devices (default 1000)
  --minutes <n>         how long (default 60)
  --period-ms <ms>      each device's sample period (default 1000)
  --kill-every <s>      SIGKILL the gateway this often (default 420), and restart it after
  --kill-down <s>         this long (default 3)
  --outage-every <s>    kill the cloud this often (default 600), and keep it down
  --outage <s>            this long (default 60)
  --sample-every <s>    memory samples (default 10)
  --warmup <s>          each process's start-up, not judged (default 180)
  --data-dir <dir>      keep everything there (default: a temporary directory, removed)
  --keep                keep the temporary directory
`);
  process.exit(0);
}
const num = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${values[name]}`);
  return n;
};
const settings = {
  devices: num("devices"), minutes: num("minutes"), periodMs: num("period-ms"),
  killEveryS: num("kill-every"), killDownS: num("kill-down"), outageEveryS: num("outage-every"), outageS: num("outage"),
  sampleEveryS: num("sample-every"), warmupS: num("warmup"),
};
/**
 * What one simulated device takes in the fleet engine (many devices per
 * xsnap-worker; `npm run bench` measures about 0.8 MiB each), with room for
 * its worker's share, and the rest of the system (gateway, cloud, workers).
 */
const BYTES_PER_DEVICE = 2 * MiB;
const BYTES_BESIDE = 1536 * MiB;
const needed = settings.devices * BYTES_PER_DEVICE + BYTES_BESIDE;
if (needed > freemem()) {
  process.stderr.write(`soak: ${settings.devices} devices need about ${(needed / 2 ** 30).toFixed(1)} GiB, and ${(freemem() / 2 ** 30).toFixed(1)} GiB is free; run fewer (--devices ${Math.max(1, Math.floor((freemem() - BYTES_BESIDE) / BYTES_PER_DEVICE))})\n`);
  process.exit(2);
}
const dataDir = values["data-dir"] ?? mkdtempSync(join(tmpdir(), "xsedge-soak-"));
const started = Date.now();
const log = (line: string) => process.stdout.write(`[soak ${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}\n`);

const [mqttPort, apiPort, cloudPort, grpcPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
const cloudUrl = `http://127.0.0.1:${cloudPort}`;
// The cloud's admin token (to register the fleet) and the gateway's token, in files of their own as an operator keeps them.
const tokens = { admin: randomBytes(24).toString("hex"), gateway: randomBytes(24).toString("hex") };
mkdirSync(join(dataDir, "tokens"), { recursive: true, mode: 0o700 });
const tokenFile = (role: keyof typeof tokens) => {
  const path = join(dataDir, "tokens", `${role}.token`);
  writeFileSync(path, tokens[role] + "\n", { mode: 0o600 });
  return path;
};
const [adminTokenFile, gatewayTokenFile] = [tokenFile("admin"), tokenFile("gateway")];
const cloud = new Managed(
  "cloud",
  () => spawn(process.execPath, [XSEDGE, "cloud", "--port", String(cloudPort), "--grpc-port", String(grpcPort), "--data-dir", join(dataDir, "cloud"), "--admin-token-file", adminTokenFile, "--gateway-token-file", gatewayTokenFile, "--log-level", "error"], { stdio: "inherit" }),
  () => until("the cloud", answers(`${cloudUrl}/healthz`), 30_000),
);
// The whole fleet connects from 127.0.0.1, which the listener's per-address caps would otherwise refuse.
const fleetLimitsEnv = Object.fromEntries(
  Object.entries(oneAddressFleetLimits(settings.devices)).map(([key, value]) => [envName(KEY_BY_PATH.get(`mqtt.${key}`)!), String(value)]),
);
const gateway = new Managed(
  "gateway",
  () => spawn(process.execPath, [
    XSEDGE, "gateway", "--mqtt-port", String(mqttPort), "--http-port", String(apiPort), "--data-dir", join(dataDir, "gateway"),
    "--cloud-target", `127.0.0.1:${grpcPort}`, "--cloud-token-file", gatewayTokenFile, "--cloud-akka-payload", "observation", "--log-level", "error",
  ], { stdio: "inherit", env: { ...process.env, ...fleetLimitsEnv } }),
  () => until("the gateway", answers(`http://127.0.0.1:${apiPort}/healthz`), 30_000),
  `http://127.0.0.1:${apiPort}/metrics`,
);
let fleetStarted: () => void = () => {};
const fleet = new Managed(
  "fleet",
  () => {
    const child = fork(FLEET, [String(settings.devices), String(mqttPort), join(dataDir, "fleet"), String(settings.periodMs), PREFIX, SECRET_PREFIX], { stdio: ["ignore", "pipe", "inherit", "ipc"] });
    child.stdout!.on("data", (chunk: Buffer) => { if (/started \d+/.test(String(chunk))) fleetStarted(); });
    return child;
  },
  () => new Promise<void>((resolve) => (fleetStarted = resolve)),
);
/** The fleet's xsnap-workers, by pid, with the time each was first seen. */
const workers = new Map<number, { firstSeen: number; samples: MemorySample[] }>();

/**
 * Whether a backlog is being built or drained: the cloud down, or the
 * gateway's relay more than ten seconds of every device's readings behind
 * (the bound the end of the soak waits for). Such samples of the gateway
 * and the cloud, which the backlog passes through, are not judged
 * (memory-trend.ts says why); the fleet's load does not change with it.
 */
const inBacklog = () => !cloud.child || (gateway.backlog ?? 0) > settings.devices * DRAINED_PER_DEVICE;

function sampleAll(): void {
  for (const p of [cloud, gateway]) p.sample(inBacklog);
  fleet.sample();
  const host = fleet.child?.pid;
  if (host === undefined) return;
  for (const pid of childrenOf(host)) {
    let worker = workers.get(pid);
    if (!worker) workers.set(pid, (worker = { firstSeen: Date.now(), samples: [] }));
    const bytes = residentBytes(pid);
    if (bytes !== undefined) worker.samples.push({ t: Date.now() - worker.firstSeen, bytes });
  }
}

const faults = { gatewayKills: 0, cloudOutages: 0 };
let stopping = false;
async function faultLoop(every: number, first: number, act: () => Promise<void>): Promise<void> {
  let next = Date.now() + first * 1000;
  while (!stopping) {
    await sleep(Math.max(0, Math.min(1000, next - Date.now())));
    if (stopping || Date.now() < next) continue;
    await act();
    next += every * 1000;
  }
}

async function killGateway(): Promise<void> {
  faults.gatewayKills++;
  log(`SIGKILL the gateway (kill ${faults.gatewayKills}); back in ${settings.killDownS} s`);
  await gateway.stop("SIGKILL", "SIGKILL");
  await sleep(settings.killDownS * 1000);
  await gateway.start();
}

async function cloudOutage(): Promise<void> {
  faults.cloudOutages++;
  log(`the cloud goes down (outage ${faults.cloudOutages}, SIGKILL) for ${settings.outageS} s`);
  await cloud.stop("SIGKILL", "outage (SIGKILL)");
  await sleep(settings.outageS * 1000);
  await cloud.start();
  log("the cloud is back");
}

const trend = { ...DEFAULT_TREND, warmupMs: settings.warmupS * 1000 };
let sampler: ReturnType<typeof setInterval> | undefined;
let exitCode = 1;
try {
  log(`data in ${dataDir}; ${settings.devices} devices for ${settings.minutes} min; gateway killed every ${settings.killEveryS} s, cloud down ${settings.outageS} s every ${settings.outageEveryS} s`);
  await cloud.start();
  for (let n = 1; n <= settings.devices; n++) {
    const sensorId = `${PREFIX}-${n}`;
    const res = await fetch(`${cloudUrl}/api/v1/sensors`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${tokens.admin}` }, body: JSON.stringify({ sensorId, secret: `${SECRET_PREFIX}${sensorId}` }) });
    if (!res.ok) throw new Error(`registering ${sensorId}: HTTP ${res.status} ${await res.text()}`);
  }
  await gateway.start();
  sampler = setInterval(sampleAll, settings.sampleEveryS * 1000);
  log("starting the fleet");
  await fleet.start();
  log(`fleet running: ${childrenOf(fleet.child!.pid!).length} xsnap-workers`);
  const endAt = started + settings.minutes * 60_000;
  const loops = Promise.all([faultLoop(settings.killEveryS, settings.killEveryS, killGateway), faultLoop(settings.outageEveryS, settings.outageEveryS, cloudOutage)]);
  while (Date.now() < endAt) await sleep(1000);
  stopping = true;
  await loops;
  if (!cloud.child) await cloud.start();
  if (!gateway.child) await gateway.start();

  log("draining: waiting for the outbox to catch up");
  let depth = Infinity;
  const drainUntil = Date.now() + DRAIN_LIMIT_MS;
  while (Date.now() < drainUntil) {
    depth = ((await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/outbox`)).json()) as { depth: number }).depth;
    if (depth <= settings.devices * DRAINED_PER_DEVICE) break;
    await sleep(1000);
  }
  clearInterval(sampler);
  await fleet.stop("SIGTERM", "end");
  await gateway.stop("SIGTERM", "end");
  await cloud.stop("SIGTERM", "end");

  const db = new Database(join(dataDir, "cloud", CLOUD_STORE_FILE), { readonly: true });
  const rows = db.prepare("SELECT sensor_id AS id, COUNT(*) AS n, MIN(seq) AS lo, MAX(seq) AS hi FROM observations GROUP BY sensor_id").all() as Array<{ id: string; n: number; lo: number; hi: number }>;
  db.close();
  const gapsBySensor: Record<string, number> = {};
  for (const r of rows) if (r.hi - r.lo + 1 !== r.n || r.lo !== 1) gapsBySensor[r.id] = r.hi - r.n;
  const processes: Report["processes"] = [cloud, gateway, fleet].flatMap((p) => p.runs.flatMap((run, i) => {
    const name = `${p.name}${p.runs.length > 1 ? ` run ${i + 1}` : ""}`;
    const rss = { name, pid: run.pid, endedBy: run.endedBy, verdict: judgeTrend(run.samples, trend), samples: run.samples };
    if (!p.metricsUrl) return [rss];
    // Where the resident memory is, beside it (shown, not part of the verdict): what V8 has committed for its heap
    // (live objects, garbage awaiting collection, free pages it keeps), and external memory (Buffers).
    const part = (what: string, samples: MemorySample[]) => ({ name: `${name} ${what}`, pid: run.pid, verdict: judgeTrend(samples, trend), samples, informational: true as const });
    return [rss, { name: `${name} live JS heap`, pid: run.pid, verdict: judgeTrend(run.heap, trend), samples: run.heap }, part("V8 heap committed", run.committed), part("external", run.external)];
  }));
  // A restarted process across its runs, each after its own warm-up, on the soak's clock: memory
  // must not creep up from one run to the next either (a store that grows, a cache rebuilt larger).
  for (const p of [cloud, gateway]) {
    if (p.runs.length < 2) continue;
    const pooled = p.runs.flatMap((run) => run.samples.filter((x) => x.t >= trend.warmupMs).map((x) => ({ ...x, t: run.startedAt - started + x.t })));
    processes.push({ name: `${p.name} all runs`, pid: 0, verdict: judgeTrend(pooled, { ...trend, warmupMs: 0 }), samples: pooled });
  }
  const workerVerdicts = [...workers.entries()].map(([pid, w]) => ({ pid, verdict: judgeTrend(w.samples, trend) }));
  const judgedWorkers = workerVerdicts.filter((w) => w.verdict.judged);
  const worst = judgedWorkers.sort((a, b) => (b.verdict as { growth: number }).growth - (a.verdict as { growth: number }).growth)[0];
  // All workers together, sampled at the same moments: the fleet's memory as one series.
  const totals = new Map<number, number>();
  for (const w of workers.values()) for (const s of w.samples) totals.set(Math.round((w.firstSeen + s.t - started) / 1000), (totals.get(Math.round((w.firstSeen + s.t - started) / 1000)) ?? 0) + s.bytes);
  const fleetStart = fleet.runs[0] ? fleet.runs[0].startedAt - started : 0;
  const totalSamples = [...totals.entries()].sort((a, b) => a[0] - b[0]).map(([t, bytes]) => ({ t: t * 1000 - fleetStart, bytes }));
  const total = judgeTrend(totalSamples, trend);
  const report: Report = {
    settings, dataDir, minutes: (Date.now() - started) / 60_000, faults, processes,
    workers: { count: workers.size, judged: judgedWorkers.length, flat: judgedWorkers.filter((w) => (w.verdict as { flat: boolean }).flat).length, worst, total, totalSamples },
    cloud: { sensors: rows.length, observations: rows.reduce((n, r) => n + r.n, 0), missing: Object.values(gapsBySensor).reduce((a, b) => a + b, 0), gapsBySensor },
    outboxAtEnd: depth,
    caughtUp: depth <= settings.devices * DRAINED_PER_DEVICE,
    ok: false,
  };
  const allFlat = [...processes.filter((p) => !p.informational).map((p) => p.verdict), ...judgedWorkers.map((w) => w.verdict), total].every((v) => !v.judged || v.flat);
  report.ok = allFlat && report.cloud.missing === 0 && report.cloud.sensors === settings.devices && report.caughtUp;
  writeFileSync(join(dataDir, "soak-report.json"), JSON.stringify(report, null, 2) + "\n");
  printReport(report);
  exitCode = report.ok ? 0 : 1;
} finally {
  stopping = true;
  if (sampler) clearInterval(sampler);
  for (const p of [fleet, gateway, cloud]) await p.stop("SIGKILL", "cleanup").catch(() => {});
  if (!values.keep && !values["data-dir"]) rmSync(dataDir, { recursive: true, force: true });
}
process.exit(exitCode);
