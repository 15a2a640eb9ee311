/*
 * The gateway of the rules benchmark in a process of its own (forked by
 * bench/rules-figures.ts): the bench devices registered, its local API on
 * an ephemeral port (rules are deployed through it, as an operator would),
 * a connector that acknowledges at once. Messages from the parent:
 * {type: "memory"} → {rss, heapUsed, workersRss, workers} (this process's
 * resident memory after a full collection, its V8 heap, and its rules
 * workers' resident memory; started with --expose-gc for that), {type: "twins"} → what the "twin" rule
 * derived against what devices sent, {type: "cpu"} → {cpu: {gatewayUs,
 * workersUs, stored, writtenBytes, loopDelayP99Ms, loopDelayMaxMs}} (CPU
 * time used so far by this process and by its rules workers, the device
 * observations stored, the bytes it has written to disk, WAL and
 * checkpoints, and how late the event loop ran its timers since the last
 * such message: the stalls PUBACKs wait through), {type: "stop"} →
 * {stopped: true}.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { CloudAck, CloudConnector } from "../../hosts/gateway/relay/connector.js";
import { startGateway } from "../../hosts/gateway/gateway.js";
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";
import { oneAddressFleetLimits } from "../../hosts/gateway/ingest/listener-limits.js";
import { createLogger } from "../../hosts/log/logger.js";
import { cpuTimeMs } from "../../hosts/proc/process-cpu.js";

export interface RulesServerPlan {
  prefix: string;
  devices: number;
  secret: string;
}

export interface TwinCheck {
  /** Device observations stored, and those with no twin, with more than one. */
  observations: number;
  missing: number;
  repeated: number;
}

const ackAll: CloudConnector = {
  name: "bench-ack",
  async send(batch): Promise<CloudAck> {
    return { acked: batch.map(({ sensorId, seq }) => ({ sensorId, seq })) };
  },
  async close() {},
};

function rssOf(pid: number | "self"): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
  } catch {
    return 0;
  }
}

/** User and system CPU time of a process, from /proc (clock ticks of 10 ms); 0 once it is gone. */
function cpuUsOf(pid: number): number {
  return (cpuTimeMs(pid) ?? 0) * 1000;
}

/**
 * Bytes this process has caused to be written to disk (/proc's write_bytes: counted as pages are dirtied, so the
 * WAL's frames and the checkpoints' pages, which every device group commit's fsync carries); 0 where /proc has no io.
 */
function writtenBytes(): number {
  try {
    return Number(/^write_bytes: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"))![1]);
  } catch {
    return 0;
  }
}

process.once("message", async (plan: RulesServerPlan) => {
  const dataDir = mkdtempSync(join(tmpdir(), "xsedge-bench-rules-"));
  const registry = new StaticRegistry(Array.from({ length: plan.devices }, (_, i) => ({ sensorId: `${plan.prefix}-${i + 1}`, secret: plan.secret })));
  const gateway = await startGateway({
    mqttPort: 0, httpPort: 0, dataDir, connector: ackAll, registry, logger: createLogger({ component: "bench", level: "error" }),
    // The bench's devices all connect from this host, as a simulator's fleet does.
    rateLimitPerSecond: Infinity, mqttLimits: oneAddressFleetLimits(plan.devices),
  });
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  process.on("message", async (message: { type: string }) => {
    if (message.type === "memory") {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const pids = gateway.rules?.workerPids() ?? [];
      process.send!({ rss: rssOf("self"), heapUsed: process.memoryUsage().heapUsed, workersRss: pids.reduce((n, pid) => n + rssOf(pid), 0), workers: pids.length });
    } else if (message.type === "cpu") {
      const own = process.cpuUsage();
      const pids = gateway.rules?.workerPids() ?? [];
      const loop = { loopDelayP99Ms: loopDelay.percentile(99) / 1e6, loopDelayMaxMs: loopDelay.max / 1e6 };
      loopDelay.reset();
      process.send!({ cpu: { gatewayUs: own.user + own.system, workersUs: pids.reduce((n, pid) => n + cpuUsOf(pid), 0), stored: gateway.stats().ingest.stored, writtenBytes: writtenBytes(), ...loop } });
    } else if (message.type === "twins") {
      const store = gateway.store;
      const devices = store.queries.sensorSummaries().filter((s) => !s.sensorId.includes(".")).reduce((n, s) => n + s.observations, 0);
      const seen = new Map<string, number>();
      for (const summary of store.queries.sensorSummaries().filter((s) => s.sensorId.endsWith(".twin"))) {
        for (const row of store.queries.recent(1_000_000, summary.sensorId)) {
          const key = `${summary.sensorId}#${Math.floor(row.observation.readings[0].value)}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }
      }
      const check: TwinCheck = { observations: devices, missing: Math.max(0, devices - seen.size), repeated: [...seen.values()].filter((n) => n > 1).length };
      process.send!(check);
    } else if (message.type === "stop") {
      await gateway.close();
      rmSync(dataDir, { recursive: true, force: true });
      process.send!({ stopped: true }, () => process.exit(0));
    }
  });
  process.send!({ ready: { mqtt: gateway.mqttPort, http: gateway.httpPort } });
});
