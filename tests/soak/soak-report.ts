/*
 * The soak's report: what ran, every process's memory verdict (with its
 * samples, in the JSON), what the cloud holds; and its text for the terminal.
 */
import { join } from "node:path";
import type { MemorySample, TrendVerdict } from "./memory-trend.js";

export interface SoakSettings {
  devices: number;
  minutes: number;
  periodMs: number;
  killEveryS: number;
  killDownS: number;
  outageEveryS: number;
  outageS: number;
  sampleEveryS: number;
  warmupS: number;
}

export interface Report {
  settings: SoakSettings;
  dataDir: string;
  minutes: number;
  faults: { gatewayKills: number; cloudOutages: number };
  /** Each run of each process (resident memory; the gateway's live JS heap too), and the restarted ones over all their runs. */
  processes: Array<{
    name: string;
    pid: number;
    endedBy?: string;
    verdict: TrendVerdict;
    samples: MemorySample[];
    /** A part of a process's memory, shown to say where its resident memory is; not part of the soak's verdict. */
    informational?: true;
  }>;
  workers: { count: number; judged: number; flat: number; worst?: { pid: number; verdict: TrendVerdict }; total: TrendVerdict; totalSamples: MemorySample[] };
  cloud: { sensors: number; observations: number; missing: number; gapsBySensor: Record<string, number> };
  outboxAtEnd: number;
  /** The outbox came down to a few observations per device within the drain limit after the last fault. */
  caughtUp: boolean;
  ok: boolean;
}

const MiB = 2 ** 20;

export function printReport(r: Report): void {
  const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;
  const verdict = (v: TrendVerdict) =>
    v.judged ? `${v.state === "growing" ? "GROWING" : v.state}: median ${mib(v.medianBytes)}, slope ${v.slopeMiBPerHour.toFixed(1)} MiB/h, rise ${mib(v.riseBytes)} (${(100 * v.growth).toFixed(1)}%; second half ${(100 * v.lateGrowth).toFixed(1)}%) over ${(v.windowMs / 60_000).toFixed(1)} min, ${v.samples} samples${v.backlogSamples > 0 ? ` (${v.backlogSamples} more during a backlog, not judged)` : ""}` : `not judged (${v.reason})`;
  const out = [
    "",
    `soak: ${r.settings.devices} devices, ${r.minutes.toFixed(1)} min, ${r.faults.gatewayKills} gateway kills, ${r.faults.cloudOutages} cloud outages`,
    ...r.processes.map((p) => `  ${p.name.padEnd(28)} ${p.pid ? `pid ${String(p.pid).padEnd(8)}` : "".padEnd(12)} ${p.informational ? "(shown only) " : ""}${verdict(p.verdict)}${p.endedBy ? `; ended by ${p.endedBy}` : ""}`),
    `  xsnap-workers  ${r.workers.count} seen, ${r.workers.judged} judged, ${r.workers.flat} flat${r.workers.worst ? `; most growth: pid ${r.workers.worst.pid}, ${verdict(r.workers.worst.verdict)}` : ""}`,
    `  all workers    ${verdict(r.workers.total)}`,
    `  cloud: ${r.cloud.observations.toLocaleString("en")} observations of ${r.cloud.sensors} sensors, ${r.cloud.missing} missing below each sensor's newest; outbox at the end ${r.outboxAtEnd}${r.caughtUp ? "" : " (the relay did NOT catch up: those never reached the cloud)"}`,
    `  ${r.ok ? "OK" : "FAILED"}; report (with every sample) in ${join(r.dataDir, "soak-report.json")}`,
    "",
  ];
  process.stdout.write(out.join("\n"));
}
