/*
 * Publish → cloud acknowledgement at 10,000 observations a second, through
 * the gateway and the reference cloud in processes of their own, beside
 * bare aedes's PUBACK latency at the same rate, with the time per stage of
 * the path (latency-figures.ts). An area of its own, so that
 * `npm run bench -- --only latency` measures it without the ingest runs.
 */
import type { BenchArea } from "../bench-area.js";
import { figure } from "../bench-area.js";
import { LATENCY_RATE, latencyFigure, STAGES, type LatencyFigure } from "../latency-figures.js";

const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "—");
const mark = (ok: boolean) => (ok ? "✓" : "✗");
/** The figure the path is held to. */
const TARGET_P99_MS = 20;

/** Why the target was missed, from this run's own figures: the slowest stage of the path, and the gateway's longest stall. */
function missedTarget(m: LatencyFigure): string {
  const inPath = STAGES.filter((s) => s !== "ack → marked" && s !== "cloud's insert and commit");
  const slowest = inPath.reduce((a, b) => (m.stages[b].p99 > m.stages[a].p99 ? b : a));
  const stall = m.loopDelayMax > TARGET_P99_MS
    ? ` The gateway's event loop stood still for up to ${fixed(m.loopDelayMax)} ms: every observation in flight waits through such a stall, so p99 ≤ ${TARGET_P99_MS} ms needs no stall longer than ${TARGET_P99_MS} ms, as well as every stage's p99 well under it.`
    : "";
  return `Against the target: the path's slowest stage at the 99th percentile is ${slowest} (${fixed(m.stages[slowest].p99)} ms; the gateway's PUBACK p99 ${fixed(m.gatewayPubackP99)} ms against bare aedes's ${fixed(m.aedesPubackP99)} ms on the same host).${stall}`;
}

const latency: BenchArea<LatencyFigure> = {
  id: "latency",
  order: 31,
  runs: 1,
  title: "publish → cloud ack latency at 10,000 observations/s through the gateway, stage by stage, beside bare aedes's PUBACK",
  measure: (context) => latencyFigure(undefined, undefined, undefined, context.log),
  figures(m) {
    return [
      figure("publish → cloud ack p99", m.cloudP99, "ms", { name: "publish → PUBACK p99, bare aedes", value: m.aedesPubackP99 }),
      figure("publish → cloud ack p50", m.cloudP50, "ms", { name: "publish → PUBACK p50, bare aedes", value: m.aedesPubackP50 }),
    ];
  },
  report(m) {
    const lines: string[] = [];
    const say = (line = "") => lines.push(line);
    say("## Gateway: latency from device publish to cloud acknowledgement");
    say();
    say(`${m.devices.toLocaleString("en")} devices publish ${LATENCY_RATE.toLocaleString("en")} observations a second in all (achieved ${Math.round(m.achievedRate).toLocaleString("en")}/s); the gateway relays them over HTTP to the reference cloud in its own process, which stores them in SQLite and acknowledges. Latency is from the device's publish to the moment the gateway holds the cloud's acknowledgement, for the observations published in the 10 s measured (${Math.round(m.measured).toLocaleString("en")} in the median round; ${Math.round(m.missing).toLocaleString("en")} published then but not acknowledged by the end). Baseline: publish → PUBACK on bare aedes at the same rate. Median of ${m.rounds.length} rounds (p99 per round: ${m.rounds.map((r) => fixed(r.cloudP99)).join(", ")} ms).`);
    say();
    say("| path | p50 | p99 | target |");
    say("|---|---|---|---|");
    say(`| publish → cloud ack, through the gateway | **${fixed(m.cloudP50)} ms** | **${fixed(m.cloudP99)} ms** | p99 ≤ ${TARGET_P99_MS} ms ${mark(m.cloudP99 <= TARGET_P99_MS)} |`);
    say(`| publish → PUBACK, gateway (committed to SQLite and fsynced) | ${fixed(m.gatewayPubackP50, 2)} ms | ${fixed(m.gatewayPubackP99, 2)} ms | |`);
    say(`| publish → PUBACK, bare aedes (baseline) | ${fixed(m.aedesPubackP50, 2)} ms | ${fixed(m.aedesPubackP99, 2)} ms | |`);
    say(`| cloud ack / aedes PUBACK | ${fixed(m.cloudP50 / m.aedesPubackP50)}× | ${fixed(m.cloudP99 / m.aedesPubackP99)}× | |`);
    say();
    say(`Where the time goes (latency-figures.ts): per observation, publish → committed (socket, listener, the wait for the group commit, which waits for the previous group's fsync; up to the row's receivedAt, stamped in the commit), committed → sent (until the relay hands the row's batch to the connector), the request to the cloud (POST to answer); per batch, the cloud's insert and commit (timed in the cloud's process; inside the request) and the gateway's ack mark (after the ack, not in the total). A stage's p99 is its own: the stages' p99s need not add up to the path's. The gateway's event-loop delay over the run: p99 ${fixed(m.loopDelayP99)} ms, max ${fixed(m.loopDelayMax)} ms.`);
    say();
    say("| stage | p50 | p99 |");
    say("|---|---|---|");
    for (const s of STAGES) say(`| ${s} | ${fixed(m.stages[s].p50, 2)} ms | ${fixed(m.stages[s].p99, 2)} ms |`);
    say();
    if (!(m.cloudP99 <= TARGET_P99_MS)) say(missedTarget(m));
    if (!(m.cloudP99 <= TARGET_P99_MS)) say();
    return lines;
  },
};

export default latency;
