/*
 * One server of the gateway benchmark in a process of its own (forked by
 * gateway-figures.ts), so each is measured alone and its resident memory is
 * its own:
 * - "aedes": bare aedes on TCP with its default in-memory persistence and no
 *   hooks: the baseline a durable gateway is compared with.
 * - "gateway": the xsedge gateway (SQLite, group commit, relay) with the
 *   bench devices registered; its connector acknowledges at once, or relays
 *   to a reference cloud and records each observation's latency from the
 *   device's publish to the cloud's acknowledgement.
 * - "listener": the gateway's MQTT listener alone, its publishes answered
 *   in batches per turn of the event loop, as the group commit answers
 *   them, but with nothing stored: what the MQTT path costs by itself.
 * - "mosquitto": Debian's mosquitto (mosquitto-server.ts), in a process of
 *   its own that this one starts and measures.
 * - "cloud": the reference cloud service.
 *
 * Messages from the parent: {type: "stats", gateway?, latencies?} → {rss, heapUsed, cpuMs, stats?, latencies?},
 * {type: "stop"}. The gateway's stats (which count the store's rows) and the
 * latencies are sent only when asked for, so that sampling memory or CPU
 * during a run costs the server next to nothing.
 */
import { oneAddressFleetLimits } from "../../hosts/gateway/ingest/listener-limits.js";
import { Aedes } from "aedes";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { join } from "node:path";
import type { CloudAck, CloudConnector, RelayedObservation } from "../../hosts/gateway/relay/connector.js";
import { createHttpConnector } from "../../hosts/gateway/relay/connectors/http.js";
import { startGateway } from "../../hosts/gateway/gateway.js";
import { startDeviceListener, type PublishIntake } from "../../hosts/gateway/ingest/device-listener.js";
import type { IngestOutcome, PublishInput } from "../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";

/** The bench's cloud and gateways, in processes of their own on loopback, share these tokens. */
const BENCH_CREDENTIALS = { adminTokens: ["bench-admin-token-0123456789"], gatewayTokens: ["bench-gateway-token-0123456789"] };
import { createLogger } from "../../hosts/log/logger.js";
import { startCloud } from "../../simulator/cloud/server.js";
import { startMosquitto } from "./mosquitto-server.js";

export interface ServerPlan {
  kind: "aedes" | "mosquitto" | "gateway" | "listener" | "cloud";
  /** gateway: the bench devices' ids are `${prefix}-1..devices`, all with `secret`. */
  prefix?: string;
  devices?: number;
  secret?: string;
  /** gateway: relay to this cloud instead of acknowledging at once. */
  cloudUrl?: string;
}

export interface ServerStats {
  rss: number;
  heapUsed: number;
  /** CPU time this process has used (user + system, all threads), ms. */
  cpuMs: number;
  /** gateway with a cloud: [publish time, ms publish → committed, committed → sent, sent → acked] per observation, flattened, in ack order. */
  latencies?: number[];
  /** With latencies: the gateway's ack marks and event-loop delay, the cloud's insert-and-commit per batch (ms). */
  timings?: Timings;
  stats?: unknown;
}

const quiet = createLogger({ component: "bench", level: "error" });
/** One host plays every device, with up to 1,000 publishes in flight each, and connects them 100 at a time. */
const BENCH_LIMITS = { maxInFlight: 1000, maxConnectionsPerAddress: 2000, maxUnauthenticatedPerAddress: 256 };

/** Answers each turn's publishes together on the next turn, as the group commit does, without a store. */
function answeringIntake(): PublishIntake {
  const outcome = { kind: "duplicate" } as IngestOutcome;
  let pending: Array<{ input: PublishInput; done: (outcome: IngestOutcome, input: PublishInput) => void }> = [];
  const flush = () => {
    const group = pending;
    pending = [];
    for (const { input, done } of group) done(outcome, input);
  };
  return {
    offer(input, done) {
      if (pending.length === 0) setImmediate(flush);
      pending.push({ input, done: done as (outcome: IngestOutcome, input: PublishInput) => void });
    },
  };
}

/** Acknowledges every observation at once: the throughput runs measure ingest, not a cloud. */
function ackingConnector(): CloudConnector {
  return {
    name: "bench-ack",
    async send(batch): Promise<CloudAck> {
      return { acked: batch.map(({ sensorId, seq }) => ({ sensorId, seq })) };
    },
    async close() {},
  };
}

/**
 * Wraps a connector and notes, per acknowledged observation, its publish time
 * (its uptimeMs: the generator's clock) and the ms from publish to committed
 * (its receivedAt, stamped in the commit), committed to sent, and sent to
 * acked; and per batch, the ms from the ack until the relay has marked its
 * rows (it does so before the event loop's next turn).
 */
function timedConnector(inner: CloudConnector, latencies: number[], markMs: number[]): CloudConnector {
  return {
    name: inner.name,
    ...(inner.maxConcurrentSends !== undefined ? { maxConcurrentSends: inner.maxConcurrentSends } : {}),
    async send(batch: readonly RelayedObservation[]): Promise<CloudAck> {
      const sentAt = Date.now();
      const ack = await inner.send(batch);
      const now = Date.now();
      const sent = new Map(batch.map((o) => [`${o.sensorId}\u0000${o.seq}`, o]));
      for (const { sensorId, seq } of ack.acked) {
        const o = sent.get(`${sensorId}\u0000${seq}`);
        if (o !== undefined) latencies.push(o.uptimeMs, o.receivedAt - o.uptimeMs, sentAt - o.receivedAt, now - sentAt);
      }
      setImmediate(() => markMs.push(Date.now() - now));
      return ack;
    },
    close: () => inner.close(),
  };
}

export interface Timings {
  markMs?: number[];
  appendMs?: number[];
  loopDelayP99?: number;
  loopDelayMax?: number;
}

interface Started {
  port: number;
  stop(): Promise<void>;
  latencies?: number[];
  timings?: () => Timings;
  stats?: () => unknown;
  /** For a server in a process of its own (mosquitto): its CPU (ms) and resident memory, instead of this process's. */
  usage?: () => { cpuMs: number; rss: number };
}

async function start(plan: ServerPlan): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), `xsedge-bench-${plan.kind}-`));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  if (plan.kind === "aedes") {
    const broker = await Aedes.createBroker();
    const server = createServer((socket) => broker.handle(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    return {
      port,
      stop: async () => {
        server.close();
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        cleanup();
      },
    };
  }
  if (plan.kind === "mosquitto") {
    cleanup();
    const users = Array.from({ length: plan.devices ?? 1 }, (_, i) => ({ username: `${plan.prefix}-${i + 1}`, password: plan.secret ?? "" }));
    const mosquitto = await startMosquitto(users);
    return { port: mosquitto.port, stop: () => mosquitto.stop(), usage: () => ({ cpuMs: mosquitto.cpuMs(), rss: mosquitto.rss() }) };
  }
  if (plan.kind === "listener") {
    const sensors = Array.from({ length: plan.devices ?? 1 }, (_, i) => ({ sensorId: `${plan.prefix}-${i + 1}`, secret: plan.secret ?? "" }));
    const listener = await startDeviceListener({
      host: "127.0.0.1", port: 0, intake: answeringIntake(), registry: new StaticRegistry(sensors), logger: quiet, limits: BENCH_LIMITS,
    });
    return { port: listener.port!, stop: async () => (await listener.close(), cleanup()) };
  }
  if (plan.kind === "cloud") {
    const cloud = await startCloud({ credentials: BENCH_CREDENTIALS, host: "127.0.0.1", port: 0, grpcPort: 0, dataDir: dir, logger: quiet });
    // Each HTTP batch's insert and commit (synchronous=FULL: its fsync is inside), timed where it runs.
    const appendMs: number[] = [];
    const append = cloud.store.append.bind(cloud.store);
    cloud.store.append = (...args: Parameters<typeof append>) => {
      const from = performance.now();
      try {
        return append(...args);
      } finally {
        appendMs.push(performance.now() - from);
      }
    };
    return { port: cloud.port, timings: () => ({ appendMs }), stop: async () => (await cloud.close(), cleanup()) };
  }
  const sensors = Array.from({ length: plan.devices ?? 1 }, (_, i) => ({ sensorId: `${plan.prefix}-${i + 1}`, secret: plan.secret ?? "" }));
  const latencies: number[] = [];
  const markMs: number[] = [];
  const connector = plan.cloudUrl ? timedConnector(createHttpConnector({ url: plan.cloudUrl, token: BENCH_CREDENTIALS.gatewayTokens[0] }), latencies, markMs) : ackingConnector();
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const gateway = await startGateway({
    mqttPort: 0,
    httpPort: null,
    dataDir: dir,
    connector,
    logger: quiet,
    registry: new StaticRegistry(sensors),
    // The bench's devices flood on purpose; the limit that protects a gateway from one would cap the figure.
    rateLimitPerSecond: Infinity,
    // The simulator's levels bring up to 10,000 devices, all from 127.0.0.1.
    mqttLimits: { ...BENCH_LIMITS, ...oneAddressFleetLimits(Math.max(plan.devices ?? 1, BENCH_LIMITS.maxConnectionsPerAddress)) },
  });
  return {
    port: gateway.mqttPort!,
    latencies,
    timings: () => ({ markMs, loopDelayP99: loopDelay.percentile(99) / 1e6, loopDelayMax: loopDelay.max / 1e6 }),
    stats: () => gateway.stats(),
    stop: async () => {
      await gateway.close();
      await connector.close();
      cleanup();
    },
  };
}

if (process.send) {
  process.once("message", (plan: ServerPlan) => {
    start(plan).then(
      (server) => {
        process.on("message", (message: { type: string; gateway?: boolean; latencies?: boolean }) => {
          if (message.type === "stats") {
            const memory = process.memoryUsage();
            const { user, system } = process.cpuUsage();
            const own = server.usage?.();
            const reply: ServerStats = {
              rss: own?.rss ?? memory.rss,
              heapUsed: memory.heapUsed,
              cpuMs: own?.cpuMs ?? (user + system) / 1000,
              latencies: message.latencies ? server.latencies : undefined,
              timings: message.latencies ? server.timings?.() : undefined,
              stats: message.gateway ? server.stats?.() : undefined,
            };
            process.send?.(reply);
          } else if (message.type === "stop") {
            server.stop().then(() => process.send?.({ stopped: true }, () => process.exit(0)));
          }
        });
        process.send?.({ port: server.port });
      },
      (error: Error) => process.send?.({ error: error.message }, () => process.exit(1)),
    );
  });
}
