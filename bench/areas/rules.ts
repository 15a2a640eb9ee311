/*
 * The gateway rules' figures (rules-figures.ts measures; this file writes
 * them up): throughput against Node's vm, the PUBACK p99 with ten rules
 * active against none, deploy to live under load against an idle deploy,
 * and the resident memory of 0, 1 and 10 rules against 0.
 */
import { figure, type BenchArea } from "../bench-area.js";
import { HOT_DEPLOYS, measureRulesFigures, PUBACK_DEVICES, PUBACK_MEASURE_MS, PUBACK_PAIRS, PUBACK_RATE, type RulesFigures } from "../rules-figures.js";
import { THROUGHPUT_OBSERVATIONS } from "../rules/throughput.js";

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const rate = (n: number) => `${Math.round(n).toLocaleString("en")}/s`;
const mb = (bytes: number) => `${fixed(bytes / 2 ** 20)} MB`;
const tick = (ok: boolean) => (ok ? "✓" : "✗");
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
/** The issue's targets: absolute, so they are judged in the prose, beside each figure's ratio to its baseline. */
const ADDED_P99_TARGET_MS = 1;
const DEPLOY_TARGET_MS = 1000;
const ADDED_MEMORY_TARGET_BYTES = 100 * 2 ** 20;

/** The alternating runs (not the one with deploys), `rules` active. */
const runsOf = (f: RulesFigures, rules: number) => f.puback.filter((p) => p.rules === rules && !p.deploys);
const p99Of = (f: RulesFigures, rules: number) => median(runsOf(f, rules).map((p) => p.p99));
const cpuOf = (f: RulesFigures, rules: number) => median(runsOf(f, rules).map((p) => p.gatewayCpuUs));
const writtenOf = (f: RulesFigures, rules: number) => median(runsOf(f, rules).map((p) => p.writtenBytes));
const totalOf = (m: RulesFigures["memory"][number]) => m.gatewayRss + m.workersRss;
const memoryOf = (f: RulesFigures, rules: number) => f.memory.find((m) => m.rules === rules)!;

const rules: BenchArea<RulesFigures> = {
  id: "rules",
  order: 60,
  // One run of the area, its PUBACK figures the medians of PUBACK_PAIRS alternating pairs within it (a median of
  // whole runs would take each leaf of the table apart from its run).
  runs: 1,
  title: "gateway rules: throughput against Node's vm, PUBACK p99 with ten rules, deploy under load, memory of 0, 1 and 10 rules",
  measure: () => measureRulesFigures(),
  figures(f) {
    const worst = (deploys: RulesFigures["deploys"]) => Math.max(...deploys.map((d) => d.tookMs));
    return [
      ...f.throughput.map((t) => figure(`${t.rule} rule through the gateway`, t.engine, "obs/s", { name: "the same rule in Node's vm", value: t.vm })),
      figure("PUBACK p99, ten rules active", p99Of(f, 10), "ms", { name: "no rule active", value: p99Of(f, 0) }),
      figure("gateway CPU per observation, ten rules active", cpuOf(f, 10), "µs", { name: "no rule active", value: cpuOf(f, 0) }),
      figure("written to disk per observation, ten rules active", writtenOf(f, 10), "B", { name: "no rule active", value: writtenOf(f, 0) }),
      figure("deploy to live under load, worst", worst(f.deploys), "ms", { name: "deploy with no load, worst", value: worst(f.idleDeploys) }),
      figure("resident memory, ten rules", totalOf(memoryOf(f, 10)), "B", { name: "no rules", value: totalOf(memoryOf(f, 0)) }),
    ];
  },
  report(f) {
    const lines = [
      "## Gateway rules",
      "",
      `Rule throughput: ${THROUGHPUT_OBSERVATIONS.toLocaleString("en")} stored observations of 10 sensors handled by a rule deployed with \`start: "stored"\`, from the deploy's end until its offset is committed past the last (SQLite reads, deliveries of up to 200 events to the rule host on the XS engine, outputs and offset committed). Beside it the same deliveries to an xsnap-worker alone (no SQLite), and the baseline: the same bundle in Node's \`vm\` (how Node-RED runs function nodes; no isolation, and no way to stop \`while (true) {}\`), with a ctx that records outputs.`,
      "",
      "| rule | gateway (XS, SQLite, commits) | XS engine alone | Node vm (baseline) | gateway / vm | computrons per event |",
      "|---|---|---|---|---|---|",
      ...f.throughput.map((t) => `| ${t.rule} | ${rate(t.engine)} | ${rate(t.xsOnly)} | ${rate(t.vm)} | **${fixed(t.engine / t.vm, 3)}** | ${Math.round(t.computePerEvent).toLocaleString("en")} |`),
      "",
      `Device PUBACK latency, ${PUBACK_DEVICES} devices publishing ${PUBACK_RATE.toLocaleString("en")} observations a second in all (a load generator in its own process, ${PUBACK_MEASURE_MS / 1000} s measured per run), with ten rules active (the four examples, a twin deriving one observation per observation, three rolling means, two counters, all handling every observation) and with none (the same gateway, its rules disabled: no rules worker runs): first a ten-rule run during which ${HOT_DEPLOYS} deploys of a new twin version happen (for the deploy figure below; not counted in the p99 figures, as the deploys' type-checks take the CPU), then ${PUBACK_PAIRS} pairs of a ten-rule run and a no-rule run, alternating, so a shared machine's drifting load weighs on both. The load average (1 minute) at each run's start is beside it.`,
      "",
      "| run | rules active | PUBACK p50 | PUBACK p99 | acknowledged | gateway CPU per observation | rules workers' CPU per observation | written to disk per observation | event loop delay p99 (max) | load average |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...f.puback.map((p, i) => `| ${i + 1} | ${p.rules}${p.deploys ? " (deploys)" : ""} | ${fixed(p.p50, 2)} ms | ${fixed(p.p99, 2)} ms | ${Math.round(p.acked).toLocaleString("en")} | ${fixed(p.gatewayCpuUs)} µs | ${fixed(p.workersCpuUs)} µs | ${fixed((p.writtenBytes ?? NaN) / 1024)} KB | ${fixed(p.loopDelayP99Ms ?? NaN, 2)} ms (${fixed(p.loopDelayMaxMs ?? NaN, 1)} ms) | ${fixed(p.loadAverage ?? NaN, 2)} |`),
      "",
      "CPU per observation: the gateway process's CPU time (all its threads) and its rules workers', from the start of a run until the rules have caught up on it, divided by the device observations stored meanwhile; steadier than latency when the machine is shared. Written to disk: the bytes the gateway process wrote over the same span (/proc's write_bytes: the WAL's frames, which each device group commit's fsync carries, and the checkpoints' pages), per device observation. Event loop delay: how late the gateway's event loop ran perf_hooks' 1 ms probe (monitorEventLoopDelay) over the same span: the stalls a PUBACK waits through, whether from work on the loop (rules' or the gateway's own) or from the CPU being taken by other processes.",
      "",
    ];
    const added = p99Of(f, 10) - p99Of(f, 0);
    lines.push(`p99 added by ten rules (the median of the ${PUBACK_PAIRS} alternating runs with ten, ${fixed(p99Of(f, 10), 2)} ms, minus the median of the ${PUBACK_PAIRS} with none, ${fixed(p99Of(f, 0), 2)} ms): **${fixed(added, 2)} ms** (target ≤ ${ADDED_P99_TARGET_MS} ms ${tick(added <= ADDED_P99_TARGET_MS)}).`, "");
    const took = f.deploys.map((d) => d.tookMs);
    const worst = Math.max(...took);
    const idle = f.idleDeploys.map((d) => d.tookMs);
    lines.push(
      `Deploy to live, under that load (type-check with tsc and bundling in a child process, load and self-test in a probe worker, load beside the running version, hand-over): ${took.map((ms) => `${Math.round(ms)} ms`).join(", ")}; of it the hand-over (the rule taking no new events while the old version finishes and commits) ${f.deploys.map((d) => `${fixed(d.handOverMs)} ms`).join(", ")}. Worst **${Math.round(worst)} ms** (target ≤ ${DEPLOY_TARGET_MS / 1000} s ${tick(worst <= DEPLOY_TARGET_MS)}); baseline: the ten rules' first deploys with no device publishing, median ${Math.round(median(idle))} ms, worst ${Math.round(Math.max(...idle))} ms. Outputs across the hand-overs: ${Math.round(f.twins.observations).toLocaleString("en")} device observations, **${f.twins.missing} without their derived twin, ${f.twins.repeated} with more than one** (target 0 and 0 ${tick(f.twins.missing === 0 && f.twins.repeated === 0)}).`,
      "",
      "Resident memory of the gateway process and its rules workers (each an xsnap-worker process), after the runs above and a full garbage collection of the gateway's heap; baseline: the same gateway with no rules (no worker runs then).",
      "",
      "| rules | gateway process (of it V8 heap used) | rules workers | total | added by the rules | target |",
      "|---|---|---|---|---|---|",
    );
    const base = totalOf(memoryOf(f, 0));
    for (const m of f.memory) {
      const addedBytes = totalOf(m) - base;
      const target = m.rules === 10 ? `≤ 100 MB ${tick(addedBytes <= ADDED_MEMORY_TARGET_BYTES)}` : "";
      lines.push(`| ${m.rules} | ${mb(m.gatewayRss)} (${mb(m.heapUsed)}) | ${mb(m.workersRss)} (${m.workers} worker${m.workers === 1 ? "" : "s"}) | ${mb(totalOf(m))} | ${m.rules === 0 ? "–" : `**${mb(addedBytes)}**`} | ${target} |`);
    }
    lines.push("");
    return lines;
  },
};

export default rules;
