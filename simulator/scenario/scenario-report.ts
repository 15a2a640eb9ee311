/*
 * A run's report as a person reads it: a summary table on the terminal
 * (the JSON report is the ScenarioReport itself). Pure.
 */
import type { ScenarioReport } from "./scenario-runner.js";
import { formatDuration } from "./yaml-fields.js";

/** Devices listed one per row up to this many; a larger fleet is summed up. */
const LISTED_DEVICES = 20;

const n = (value: number) => value.toLocaleString("en");
const pad = (text: string, width: number) => text + " ".repeat(Math.max(0, width - text.length));

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => "  " + r.map((cell, c) => (c === r.length - 1 ? cell : pad(cell, widths[c]))).join("  "));
}

function stats(record: Record<string, number | string | boolean>): string {
  return Object.entries(record).map(([k, v]) => `${k} ${typeof v === "number" ? n(v) : String(v)}`).join(", ");
}

export function summaryTable(report: ScenarioReport): string {
  const s = report.scenario;
  const t = report.totals;
  const lines = [
    `Scenario "${s.name}" (${s.file}), ${s.time} time, seed ${s.seed}: ${formatDuration(s.durationMs)} and ${formatDuration(s.drainMs)} to drain, in ${(report.wallMs / 1000).toFixed(1)} s`,
    "",
    ...table([
      ["devices", "samples", "at the cloud", "missing", "boots", "power cuts", "uncaught", "most-erased block"],
      [n(t.devices), n(t.samples), n(t.atCloud), n(t.missing), n(t.boots), n(t.powerCuts), n(t.uncaught), `${n(t.maxErases)} erases`],
    ]),
    "",
  ];
  if (report.devices.length <= LISTED_DEVICES) {
    lines.push(...table([
      ["device", "boots", "samples", "at the cloud", "power cuts", "uncaught", "flash records", "most-erased block"],
      ...report.devices.map((d) => [d.sensorId, n(d.boots), n(d.samples), n(d.atCloud), n(d.powerCuts), n(d.uncaught), n(d.flashRecords), n(d.maxErases)]),
    ]), "");
  }
  lines.push(`  gateway: ${stats(report.world.gateway)}`, `  cloud: ${stats(report.world.cloud)}`, `  network: ${stats(report.world.network)}`, "");
  if (report.expectations.length === 0) lines.push("  (the scenario expects nothing)");
  else {
    lines.push(...table([
      ["", "expectation", "where", "result"],
      ...report.expectations.map((e) => [e.ok ? "✓" : "✗", e.text, e.where, e.detail]),
    ]));
  }
  const held = report.expectations.filter((e) => e.ok).length;
  lines.push("", report.ok ? `PASSED: ${held} of ${report.expectations.length} expectations held` : `FAILED: ${report.expectations.length - held} of ${report.expectations.length} expectations did not hold`);
  return lines.join("\n") + "\n";
}
