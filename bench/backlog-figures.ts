/*
 * Backlog drain: the gateway's outbox after an outage of one hour with 100
 * devices each sending once a second (360,000 observations, all
 * unrelayed), drained to the reference cloud over Akka gRPC (ConsumeEvent,
 * the observation payload), rows per second from the gateway's start
 * until the last row is acknowledged and marked. Baseline: the same
 * backlog drained over the HTTP connector to the same cloud, in the same
 * run: the other way the gateway can relay, with the same store, relay
 * loop, batch size and cloud store, so the ratio is the transport's.
 *
 * The gateway and the cloud each run in a process of their own; the
 * backlog is written by SQL into the store's real schema (the store's own
 * API would take minutes at synchronous=FULL), and each drain gets its own
 * copy of it and a fresh cloud.
 */
import Database from "better-sqlite3";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ObservationStore } from "../hosts/gateway/store/observation-store.js";
import { startChild } from "./backlog/child.js";

const GATEWAY = fileURLToPath(new URL("./backlog/gateway-process.js", import.meta.url));
const CLOUD = fileURLToPath(new URL("./backlog/cloud-process.js", import.meta.url));
export const BACKLOG_DEVICES = 100;
export const OUTAGE_SECONDS = 3600;
/** Each device's rate while live: one observation a second. */
export const LIVE_RATE = BACKLOG_DEVICES;
/** A drain that takes longer than this is a failure of the bench, not a figure. */
const DRAIN_LIMIT_MS = 600_000;
const POLL_MS = 100;

export type Transport = "akka-grpc" | "http";

export interface DrainFigure {
  transport: Transport;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  /** CPU per row, µs: the gateway's process and the cloud's. */
  gatewayCpuUs: number;
  cloudCpuUs: number;
  /** Peak resident memory of the gateway while draining, bytes. */
  gatewayRss: number;
}

/** A data directory whose store holds the outage's observations, unrelayed, in the order they arrived. */
export function buildBacklog(dir: string, devices = BACKLOG_DEVICES, seconds = OUTAGE_SECONDS): number {
  ObservationStore.open(dir).close();
  const db = new Database(join(dir, "observations.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  const insert = db.prepare(
    `INSERT INTO observations (sensor_id, seq, boot, uptime_ms, time, time_source, readings, received_at, relayed_at)
     VALUES (?, ?, 1, ?, ?, 'device', ?, ?, NULL)`,
  );
  const start = 1_700_000_000_000;
  db.transaction(() => {
    for (let s = 0; s < seconds; s++) {
      for (let d = 1; d <= devices; d++) {
        const readings = JSON.stringify([{ quantity: "temperature", value: 20 + ((s + d) % 100) / 20 }, { quantity: "humidity", value: 45 + (d % 10) }]);
        insert.run(`backlog-${d}`, s + 1, s * 1000, start + s * 1000, readings, start + s * 1000 + 5);
      }
    }
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return devices * seconds;
}

export async function drain(backlogDir: string, rows: number, transport: Transport): Promise<DrainFigure> {
  const dir = mkdtempSync(join(tmpdir(), `xsedge-backlog-${transport}-`));
  try {
    const gatewayDir = join(dir, "gateway");
    mkdirSync(gatewayDir);
    copyFileSync(join(backlogDir, "observations.db"), join(gatewayDir, "observations.db"));
    const cloud = await startChild(CLOUD, [join(dir, "cloud")], "cloud");
    try {
      const where = String(transport === "http" ? cloud.ready.url : cloud.ready.grpcTarget);
      const started = performance.now();
      // The cloud's gateway token goes by environment, as an operator's would (argv is visible to every user).
      const gateway = await startChild(GATEWAY, [gatewayDir, String(BACKLOG_DEVICES), transport, where], "gateway", { XSEDGE_BENCH_CLOUD_TOKEN: String(cloud.ready.gatewayToken) });
      type GatewayStats = { unrelayed: number; cpuMs: number; rss: number };
      const stats = () => gateway.ask({ type: "stats" }, (m) => m?.stats as GatewayStats | undefined);
      try {
        const cloudCpuFrom = (await cloud.ask({ type: "stats" }, (m) => m?.stats as { cpuMs: number } | undefined)).cpuMs;
        let last = await stats();
        let rss = last.rss;
        while (last.unrelayed > 0) {
          if (performance.now() - started > DRAIN_LIMIT_MS) throw new Error(`backlog over ${transport}: ${last.unrelayed} rows left after ${DRAIN_LIMIT_MS} ms`);
          await new Promise((r) => setTimeout(r, POLL_MS));
          last = await stats();
          rss = Math.max(rss, last.rss);
        }
        const seconds = (performance.now() - started) / 1000;
        const atCloud = await cloud.ask({ type: "stats" }, (m) => m?.stats as { observations: number; cpuMs: number } | undefined);
        if (atCloud.observations !== rows) throw new Error(`backlog over ${transport}: the cloud holds ${atCloud.observations} of ${rows} rows`);
        return {
          transport,
          rows,
          seconds,
          rowsPerSecond: rows / seconds,
          gatewayCpuUs: (last.cpuMs * 1000) / rows,
          cloudCpuUs: ((atCloud.cpuMs - cloudCpuFrom) * 1000) / rows,
          gatewayRss: rss,
        };
      } finally {
        await gateway.stop();
      }
    } finally {
      await cloud.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function backlogFigures(log: (line: string) => void = () => {}): Promise<DrainFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), "xsedge-backlog-"));
  try {
    log(`writing the backlog: ${BACKLOG_DEVICES} devices × ${OUTAGE_SECONDS} s`);
    const rows = buildBacklog(dir);
    const figures: DrainFigure[] = [];
    for (const transport of ["akka-grpc", "http"] as const) {
      log(`draining over ${transport}`);
      figures.push(await drain(dir, rows, transport));
    }
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const f of await backlogFigures((line) => console.log(line))) console.log(JSON.stringify(f));
}
