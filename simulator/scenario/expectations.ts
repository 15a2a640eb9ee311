/*
 * Whether a scenario's expectations held, each with the evidence: pure
 * functions of what the run saw (run-facts.ts), what reached the cloud and
 * the devices' wear. Times are ms since the scenario's start.
 */
import type { DeviceGroup, Expectation, ExpectationSpec } from "./scenario-types.js";
import { matches } from "./scenario-timeline.js";
import type { RunFacts, Sample } from "./run-facts.js";
import { formatDuration } from "./yaml-fields.js";

export interface CloudView {
  /** When the cloud first had this observation (ms since the start), and how many copies it got. */
  entry(sensorId: string, seq: number): { firstAt: number; copies: number; readings: Record<string, number> } | undefined;
}

export interface Evidence {
  facts: RunFacts;
  cloud: CloudView | undefined;
  groups: readonly DeviceGroup[];
  /** Samples from this time on are not expected to have arrived. */
  durationMs: number;
  /** Each device's most-erased block. */
  maxErases: ReadonlyMap<string, number>;
  /** Publishes the gateway delayed or refused for their rate (a spawned gateway). */
  rateLimited?: number;
}

export interface ExpectationResult {
  text: string;
  where: string;
  ok: boolean;
  detail: string;
}

const MAX_LISTED = 5;
const list = (items: string[]) => items.slice(0, MAX_LISTED).join(", ") + (items.length > MAX_LISTED ? ` and ${items.length - MAX_LISTED} more` : "");

function groupOf(evidence: Evidence, sensorId: string): DeviceGroup | undefined {
  return evidence.groups.find((g) => sensorId.startsWith(`${g.name}-`) && /^\d+$/.test(sensorId.slice(g.name.length + 1)));
}

/** The samples a power cut may take: those of a boot it ended, taken within the last batch window before it. */
function lostToCut(evidence: Evidence, sensorId: string, sample: Sample): boolean {
  const boot = evidence.facts.boots.get(sensorId)?.find((b) => b.boot === sample.boot);
  if (boot?.endedBy !== "power-cut" || boot.endedAt === undefined) return false;
  const group = groupOf(evidence, sensorId);
  const window = (group?.batchMaxAgeMs ?? 0) + 2 * (group?.samplePeriodMs ?? 1000);
  return sample.at > boot.endedAt - window && sample.at <= boot.endedAt;
}

function delivered(evidence: Evidence, e: Extract<Expectation, { kind: "delivered" }>): [boolean, string] {
  if (!evidence.cloud) return [false, "no cloud to check against (an external gateway)"];
  let sampled = 0;
  let excused = 0;
  const missing: string[] = [];
  const repeated: string[] = [];
  for (const [sensorId, sample] of evidence.facts.sampledBefore(evidence.durationMs)) {
    if (!matches(e.devices, sensorId)) continue;
    sampled++;
    const entry = evidence.cloud.entry(sensorId, sample.seq);
    if (!entry) {
      if (e.exceptPowerCuts && lostToCut(evidence, sensorId, sample)) excused++;
      else missing.push(`${sensorId} seq ${sample.seq}`);
    } else if (entry.copies > 1) repeated.push(`${sensorId} seq ${sample.seq} (${entry.copies} copies)`);
  }
  if (sampled === 0) return [false, "no observation was sampled"];
  const excuse = excused > 0 ? `, ${excused} lost in RAM to power cuts (allowed)` : "";
  if (missing.length > 0) return [false, `${missing.length} of ${sampled} sampled never reached the cloud: ${list(missing)}${excuse}`];
  // The cloud keeps one of each (sensor, seq); what it was sent twice is reported, not counted against.
  const copies = repeated.length > 0 ? `; the cloud was sent ${repeated.length} of them more than once and kept one` : "";
  return [true, `all ${sampled - excused} of ${sampled} sampled reached the cloud once${excuse}${copies}`];
}

function backlogDrains(evidence: Evidence, e: Extract<Expectation, { kind: "backlogDrains" }>): [boolean, string] {
  if (!evidence.cloud) return [false, "no cloud to check against (an external gateway)"];
  let last = -Infinity;
  let lastOf = "";
  const missing: string[] = [];
  for (const [sensorId, sample] of evidence.facts.sampledBefore(e.afterMs)) {
    const entry = evidence.cloud.entry(sensorId, sample.seq);
    if (!entry) missing.push(`${sensorId} seq ${sample.seq}`);
    else if (entry.firstAt > last) {
      last = entry.firstAt;
      lastOf = `${sensorId} seq ${sample.seq}`;
    }
  }
  if (missing.length > 0) return [false, `${missing.length} observations sampled before ${formatDuration(e.afterMs)} never reached the cloud: ${list(missing)}`];
  if (last === -Infinity) return [false, `nothing was sampled before ${formatDuration(e.afterMs)}`];
  const took = Math.max(0, last - e.afterMs);
  return [took <= e.withinMs, `the backlog reached the cloud ${formatDuration(took)} after ${formatDuration(e.afterMs)} (last: ${lastOf}; allowed ${formatDuration(e.withinMs)})`];
}

function lossAtMostOpenBatch(evidence: Evidence): [boolean, string] {
  if (!evidence.cloud) return [false, "no cloud to check against (an external gateway)"];
  const cuts = evidence.facts.halts.length;
  if (cuts === 0) return [false, "no power cut happened"];
  const beyond: string[] = [];
  let lost = 0;
  for (const [sensorId, sample] of evidence.facts.sampledBefore(evidence.durationMs)) {
    if (evidence.cloud.entry(sensorId, sample.seq)) continue;
    if (lostToCut(evidence, sensorId, sample)) lost++;
    else beyond.push(`${sensorId} seq ${sample.seq} (boot ${sample.boot})`);
  }
  if (beyond.length > 0) return [false, `${beyond.length} observations were lost outside the batch open at a cut: ${list(beyond)}`];
  return [true, `${cuts} power cuts lost ${lost} observations, all from the batch each cut found open in RAM`];
}

function readings(evidence: Evidence, e: Extract<Expectation, { kind: "readings" }>): [boolean, string] {
  if (!evidence.cloud) return [false, "no cloud to check against (an external gateway)"];
  const values = new Set<number>();
  let inWindow = 0;
  let withQuantity = 0;
  for (const [sensorId, sample] of evidence.facts.sampledBefore(e.toMs)) {
    if (sample.at < e.fromMs || !matches(e.devices, sensorId)) continue;
    inWindow++;
    const entry = evidence.cloud.entry(sensorId, sample.seq);
    const value = entry?.readings[e.quantity];
    if (value === undefined) continue;
    withQuantity++;
    values.add(value);
  }
  const window = `${formatDuration(e.fromMs)} to ${formatDuration(e.toMs)}`;
  if (e.absent) return [withQuantity === 0, `${withQuantity} observations with ${e.quantity} sampled from ${window} (${inWindow} observations in all)`];
  if (withQuantity === 0) return [false, `no ${e.quantity} reading was sampled from ${window}`];
  return [values.size === 1, `${withQuantity} ${e.quantity} readings from ${window}, ${values.size} distinct value${values.size === 1 ? ` (${[...values][0]})` : "s"}`];
}

function evaluate(evidence: Evidence, e: Expectation): [boolean, string] {
  switch (e.kind) {
    case "delivered":
      return delivered(evidence, e);
    case "noUncaught": {
      const u = evidence.facts.uncaught;
      return [u.length === 0, u.length === 0 ? "no device threw" : `${u.length} uncaught: ${list(u.map((x) => `${x.sensorId} at ${formatDuration(x.at)}: ${x.text.split("\n")[0]}`))}`];
    }
    case "backlogDrains":
      return backlogDrains(evidence, e);
    case "flashWear": {
      const worn = [...evidence.maxErases].filter(([, erases]) => erases > e.maxErases).map(([id, erases]) => `${id} (${erases})`);
      const most = Math.max(0, ...evidence.maxErases.values());
      return [worn.length === 0, worn.length === 0 ? `the most-erased block of any device: ${most} erases (allowed ${e.maxErases})` : `worn past ${e.maxErases} erases: ${list(worn)}`];
    }
    case "lossAtMostOpenBatch":
      return lossAtMostOpenBatch(evidence);
    case "readings":
      return readings(evidence, e);
    case "rateLimited": {
      const n = evidence.rateLimited ?? 0;
      return [n >= e.min, `the gateway delayed or refused ${n} publishes for their rate (at least ${e.min} expected)`];
    }
  }
}

export function evaluateExpectations(specs: readonly ExpectationSpec[], evidence: Evidence): ExpectationResult[] {
  return specs.map((spec) => {
    const [ok, detail] = evaluate(evidence, spec.expectation);
    return { text: spec.text, where: spec.where, ok, detail };
  });
}
