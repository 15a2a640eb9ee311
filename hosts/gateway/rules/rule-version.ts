/*
 * One built version of a rule as the engine holds it: the bundle that runs,
 * its source and map (for fault lines), and what loading it declared.
 */
import type { VersionRow } from "../store/observation-store.js";
import { RuleSelector } from "./rule-selector.js";
import { SourceLines, type SourceMap } from "./source-lines.js";
import type { RuleSummary } from "./xs/protocol.js";

export interface RuleVersion {
  name: string;
  version: number;
  hash: string;
  /** The .ts file name, and the bundle's as XS's stack frames show it. */
  file: string;
  bundleFile: string;
  source: string;
  bundle: string;
  sourceMap: string;
  deployedAt: number;
  /** "<name>@<version>": its slot in a worker. */
  slot: string;
  summary: RuleSummary;
  selector: RuleSelector;
  /** The source map, decoded on first use (only a fault needs it). */
  lines(): SourceLines;
}

export function ruleVersion(row: Pick<VersionRow, "rule" | "version" | "hash" | "file" | "source" | "bundle" | "sourceMap" | "deployedAt">, summary: RuleSummary): RuleVersion {
  let lines: SourceLines | undefined;
  return {
    name: row.rule,
    version: row.version,
    hash: row.hash,
    file: row.file,
    bundleFile: row.file.replace(/\.ts$/, ".js"),
    source: row.source,
    bundle: row.bundle,
    sourceMap: row.sourceMap,
    deployedAt: row.deployedAt,
    slot: `${row.rule}@${row.version}`,
    summary,
    selector: new RuleSelector(summary.sensors, summary.quantities),
    lines: () => (lines ??= new SourceLines(JSON.parse(row.sourceMap) as SourceMap)),
  };
}
