/*
 * Latency from a device's publish to the cloud's acknowledgement at 10,000
 * observations a second (area `latency`), beside bare aedes's PUBACK
 * latency at the same rate, and where that time goes, stage by stage:
 *
 * - publish → committed: the socket, the MQTT listener, and the wait for the
 *   group commit (which waits for the previous group's fsync), up to the
 *   row's receivedAt, stamped in the commit's transaction;
 * - committed → sent: until the relay picks the row up and hands its batch
 *   to the connector;
 * - the request: the HTTP POST to the cloud and its answer, with the cloud's
 *   own insert and commit (measured in the cloud's process) inside it;
 * - the ack mark: the relay marking the acknowledged rows (after the ack,
 *   so not in the total).
 *
 * The gateway's event-loop delay (p99 and max) is measured beside them:
 * a stall there delays every stage at once.
 */
import { percentile, type LoadPlan, type LoadResult } from "./gateway/load-generator.js";
import { median, runLoad, SECRET, startServer, type Server } from "./gateway-figures.js";

export const LATENCY_RATE = 10_000;
const LATENCY_DEVICES = 1000;
/** Rounds (XSEDGE_BENCH_ROUNDS overrides): three give a median that one slow moment cannot move. */
const ROUNDS = Math.max(1, Number(process.env.XSEDGE_BENCH_ROUNDS ?? 3) || 3);

/** The stages of the path, in order, as named in the report. */
export const STAGES = ["publish → committed", "committed → sent", "request to the cloud", "cloud's insert and commit", "ack → marked"] as const;
export type Stage = (typeof STAGES)[number];

export interface StageFigure {
  p50: number;
  p99: number;
}

export interface LatencyRound {
  /** Publish → cloud ack through the gateway and the reference cloud, ms. */
  cloudP50: number;
  cloudP99: number;
  /** Observations published while measuring that the cloud acknowledged (the rest are counted as missing). */
  measured: number;
  missing: number;
  /** Publish → PUBACK, ms: through the gateway, and through bare aedes at the same rate (the baseline). */
  gatewayPubackP50: number;
  gatewayPubackP99: number;
  aedesPubackP50: number;
  aedesPubackP99: number;
  achievedRate: number;
  /** Per stage, ms: per observation for the first three, per request for the cloud's commit and the mark. */
  stages: Record<Stage, StageFigure>;
  /** The gateway's event-loop delay over the run, ms. */
  loopDelayP99: number;
  loopDelayMax: number;
}

/** Each field the median of its rounds. */
export interface LatencyFigure extends LatencyRound {
  rate: number;
  devices: number;
  rounds: LatencyRound[];
}

/** Waits (bounded) until the gateway's relay has nothing left to send. */
async function drained(gateway: Server): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    const stats = (await gateway.stats({ gateway: true })).stats as { relay?: { backlog?: number } } | undefined;
    if (stats?.relay?.backlog === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const stage = (values: number[]): StageFigure => ({ p50: percentile(values, 0.5), p99: percentile(values, 0.99) });

async function latencyRound(rate: number, devices: number): Promise<LatencyRound> {
  const plan = (port: number, prefix: string): LoadPlan => ({
    port, devices, mode: "rate", rate, window: 100, warmupMs: 3000, measureMs: 10_000, prefix, secret: SECRET, firstSeq: 1,
  });
  const aedes = await startServer({ kind: "aedes" });
  let aedesLoad: LoadResult;
  try {
    aedesLoad = await runLoad(plan(aedes.port, "lat"));
  } finally {
    await aedes.stop();
  }
  const cloud = await startServer({ kind: "cloud" });
  try {
    const gateway = await startServer({ kind: "gateway", prefix: "lat", devices, secret: SECRET, cloudUrl: `http://127.0.0.1:${cloud.port}` });
    try {
      const load = await runLoad(plan(gateway.port, "lat"));
      await drained(gateway);
      const { latencies = [], timings } = await gateway.stats({ latencies: true });
      const cloudTimings = (await cloud.stats({ latencies: true })).timings;
      const total: number[] = [];
      const [toCommit, toSend, request]: number[][] = [[], [], []];
      // Per observation: publish time, then ms publish → committed, committed → sent, sent → acked.
      for (let i = 0; i < latencies.length; i += 4) {
        const at = latencies[i];
        if (at < load.measureFrom || at >= load.measureTo) continue;
        toCommit.push(latencies[i + 1]);
        toSend.push(latencies[i + 2]);
        request.push(latencies[i + 3]);
        total.push(latencies[i + 1] + latencies[i + 2] + latencies[i + 3]);
      }
      return {
        cloudP50: percentile(total, 0.5),
        cloudP99: percentile(total, 0.99),
        measured: total.length,
        missing: Math.max(0, load.published - total.length),
        gatewayPubackP50: load.pubackP50,
        gatewayPubackP99: load.pubackP99,
        aedesPubackP50: aedesLoad.pubackP50,
        aedesPubackP99: aedesLoad.pubackP99,
        achievedRate: (load.published * 1000) / load.measuredMs,
        stages: {
          "publish → committed": stage(toCommit),
          "committed → sent": stage(toSend),
          "request to the cloud": stage(request),
          "cloud's insert and commit": stage(cloudTimings?.appendMs ?? []),
          "ack → marked": stage(timings?.markMs ?? []),
        },
        loopDelayP99: timings?.loopDelayP99 ?? NaN,
        loopDelayMax: timings?.loopDelayMax ?? NaN,
      };
    } finally {
      await gateway.stop();
    }
  } finally {
    await cloud.stop();
  }
}

export async function latencyFigure(rate = LATENCY_RATE, devices = LATENCY_DEVICES, rounds = ROUNDS, log: (line: string) => void = () => {}): Promise<LatencyFigure> {
  const all: LatencyRound[] = [];
  for (let round = 0; round < rounds; round++) {
    all.push(await latencyRound(rate, devices));
    log(`latency round ${round + 1}: p50 ${all[round].cloudP50.toFixed(1)} ms, p99 ${all[round].cloudP99.toFixed(1)} ms`);
  }
  const of = (field: Exclude<keyof LatencyRound, "stages">) => median(all.map((r) => r[field]));
  const stages = Object.fromEntries(STAGES.map((s) => [s, { p50: median(all.map((r) => r.stages[s].p50)), p99: median(all.map((r) => r.stages[s].p99)) }])) as Record<Stage, StageFigure>;
  return {
    rate,
    devices,
    rounds: all,
    cloudP50: of("cloudP50"),
    cloudP99: of("cloudP99"),
    measured: of("measured"),
    missing: of("missing"),
    gatewayPubackP50: of("gatewayPubackP50"),
    gatewayPubackP99: of("gatewayPubackP99"),
    aedesPubackP50: of("aedesPubackP50"),
    aedesPubackP99: of("aedesPubackP99"),
    achievedRate: of("achievedRate"),
    stages,
    loopDelayP99: of("loopDelayP99"),
    loopDelayMax: of("loopDelayMax"),
  };
}
