/*
 * A scenario, as scenario-file.ts reads it from YAML or JSON and
 * scenario-runner.ts runs it: a fleet (groups of devices, each with its
 * app, part, signals and faults), the world around it (a gateway, a cloud,
 * a network), what happens to them over time, and what is expected.
 * Durations are ms; every event and expectation keeps its file position,
 * so a report can point back at it.
 */
import type { FaultSpec } from "../sensors/part-faults.js";
import type { ModelledPart, PartSignals } from "../sensors/part-builder.js";
import type { LinkConditions } from "../network/link-conditions.js";

export type TimeMode = "virtual" | "real";

export type GatewaySpec =
  /** The gateway model, in virtual time. */
  | { kind: "model"; commitMs: number; relayIntervalMs: number; highWater?: number; lowWater?: number }
  /** The real gateway (`xsedge gateway`) in a process of its own, with the reference cloud, in real time. */
  | { kind: "spawn"; rateLimitPerSecond?: number; rateLimitBurst?: number }
  /** A gateway already running, in real time. */
  | { kind: "external"; address: string; port: number };

export interface DeviceGroup {
  /** Device ids are `${name}-1` … `${name}-${count}`. */
  name: string;
  count: number;
  /** An app bundle; the built-in app when left out. */
  app?: string;
  part: ModelledPart;
  samplePeriodMs: number;
  batchMaxAgeMs: number;
  bootAtMs: number;
  signals: PartSignals;
  faults: FaultSpec;
  /** Further mc/config values. */
  config: Record<string, unknown>;
  /** Whether the gateway knows its secret (false: a device the gateway must refuse). */
  registered: boolean;
}

/** Which devices an event or expectation is about: ids, `name-*` patterns, or all. */
export type Selector = { all: true } | { patterns: string[] };

export type ScenarioAction =
  | { kind: "cloud"; up: boolean }
  | { kind: "gateway"; how: "kill" | "restart"; downForMs: number }
  | { kind: "faults"; devices: Selector; faults: FaultSpec }
  | { kind: "signals"; devices: Selector; signals: PartSignals }
  | { kind: "power"; devices: Selector; on: boolean }
  | { kind: "powerCut"; devices: Selector; during: "any" | "write" | "erase"; after: number; rebootAfterMs: number }
  | { kind: "network"; devices: Selector; conditions: Partial<LinkConditions> };

export interface ScenarioEvent {
  atMs: number;
  /** Undone after this long (faults cleared, power back, network restored). */
  forMs?: number;
  action: ScenarioAction;
  /** "file:line:col", for reports. */
  where: string;
}

export type Expectation =
  /** Every observation sampled reaches the cloud (exactly once as the cloud sees it), except, when told, what a power cut took from RAM. */
  | { kind: "delivered"; devices: Selector; exceptPowerCuts: boolean }
  | { kind: "noUncaught" }
  /** Everything sampled before `afterMs` is at the cloud by `afterMs + withinMs`. */
  | { kind: "backlogDrains"; afterMs: number; withinMs: number }
  | { kind: "flashWear"; maxErases: number }
  /** A power cut loses at most the batch that was open in RAM: only the tail of that boot's samples. */
  | { kind: "lossAtMostOpenBatch" }
  /** The readings of observations sampled in [fromMs, toMs): all equal, or none of that quantity. */
  | { kind: "readings"; devices: Selector; quantity: string; fromMs: number; toMs: number; constant: boolean; absent: boolean }
  /** The real gateway delayed or refused at least `min` publishes for their rate (its counters are gateway-wide). */
  | { kind: "rateLimited"; min: number };

export interface ExpectationSpec {
  expectation: Expectation;
  where: string;
  /** How the file wrote it, for the report. */
  text: string;
}

export interface Scenario {
  file: string;
  name: string;
  description?: string;
  seed: number;
  time: TimeMode;
  /** Virtual time's first reading, ms since the epoch. */
  startMs?: number;
  durationMs: number;
  /** After the duration, how long the fleet keeps running so what was sampled can arrive. */
  drainMs: number;
  workers?: number;
  gateway: GatewaySpec;
  cloudLatencyMs: number;
  network: LinkConditions;
  groups: DeviceGroup[];
  events: ScenarioEvent[];
  expectations: ExpectationSpec[];
}
