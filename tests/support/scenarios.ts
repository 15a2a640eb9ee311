/*
 * Running the shipped scenarios (simulator/scenarios) as the suite's tests
 * do: read from the repository, run, and the report handed back with every
 * failed expectation in the assertion message.
 */
import { fileURLToPath } from "node:url";
import * as assert from "uvu/assert";
import { readScenarioFile } from "../../simulator/scenario/scenario-file.js";
import { runScenario, type ScenarioReport } from "../../simulator/scenario/scenario-runner.js";
import { summaryTable } from "../../simulator/scenario/scenario-report.js";

export const SCENARIOS = fileURLToPath(new URL("../../../simulator/scenarios/", import.meta.url));

export async function runShipped(name: string): Promise<ScenarioReport> {
  const read = readScenarioFile(`${SCENARIOS}${name}.yaml`);
  if (!read.ok) throw new Error(read.errors.join("\n"));
  const report = await runScenario(read.scenario);
  assert.ok(report.ok, `${name}:\n${summaryTable(report)}`);
  return report;
}

export function expectation(report: ScenarioReport, text: string): string {
  const found = report.expectations.find((e) => e.text.startsWith(text));
  assert.ok(found, `no expectation ${text}`);
  return found!.detail;
}
