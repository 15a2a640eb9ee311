/*
 * Runs a scenario: builds its world (virtual-world.ts or real-world.ts)
 * and its fleet, boots the devices, applies its events at their times,
 * lets it run through its duration and a drain, then checks its
 * expectations against what happened (run-facts.ts, expectations.ts).
 * What happened is also written as a trace, one JSON object per line,
 * which in virtual time is the same, byte for byte, for the same seed.
 */
import type { FleetDevice, DeviceSpec } from "../fleet/fleet-device.js";
import { SIM_FLASH } from "../fleet/fleet-device.js";
import type { FleetEngine } from "../fleet/fleet-engine.js";
import { VIRTUAL_EPOCH } from "../fleet/virtual-driver.js";
import { defaultSignals, type PartSignals } from "../sensors/part-builder.js";
import { mix } from "../sensors/signal.js";
import { evaluateExpectations, type ExpectationResult } from "./expectations.js";
import { RealWorld } from "./real-world.js";
import { RunFacts } from "./run-facts.js";
import { matches } from "./scenario-timeline.js";
import type { DeviceGroup, Scenario, ScenarioEvent } from "./scenario-types.js";
import { VirtualWorld } from "./virtual-world.js";
import type { World, WorldSummary } from "./world.js";
import { formatDuration } from "./yaml-fields.js";

export interface RunOptions {
  /** Overrides the scenario's seed. */
  seed?: number;
  /** Each line of the run's trace (JSON, no newline). */
  trace?: (line: string) => void;
  /** How far the run is, ms of scenario time out of `total`. */
  progress?: (at: number, total: number) => void;
  /** The fleet as soon as it runs (the web UI watches it). */
  onFleet?: (engine: FleetEngine, world: World) => void;
}

export interface DeviceReport {
  sensorId: string;
  boots: number;
  samples: number;
  atCloud: number;
  powerCuts: number;
  uncaught: number;
  maxErases: number;
  flashRecords: number;
}

export interface ScenarioReport {
  scenario: { name: string; file: string; time: string; seed: number; durationMs: number; drainMs: number };
  ok: boolean;
  wallMs: number;
  totals: { devices: number; samples: number; atCloud: number; missing: number; powerCuts: number; uncaught: number; boots: number; maxErases: number };
  devices: DeviceReport[];
  world: WorldSummary;
  expectations: ExpectationResult[];
}

interface Member {
  sensorId: string;
  secret: string;
  group: DeviceGroup;
  seed: number;
}

function members(scenario: Scenario, seed: number): Member[] {
  const list: Member[] = [];
  for (const group of scenario.groups) {
    for (let n = 1; n <= group.count; n++) {
      const sensorId = `${group.name}-${n}`;
      list.push({ sensorId, secret: `secret-of-${sensorId}`, group, seed: mix(seed, list.length, 0x5ce1a210) });
    }
  }
  return list;
}

function specFor(member: Member, world: World, origin: number): DeviceSpec {
  const { group } = member;
  return {
    sensorId: member.sensorId,
    app: group.app,
    seed: member.seed,
    parts: [{ part: group.part, signals: group.signals, faults: group.faults, origin }],
    config: {
      sensorId: member.sensorId,
      sensor: group.part,
      gatewayAddress: world.gatewayAddress,
      gatewayPort: world.gatewayPort,
      samplePeriodMs: group.samplePeriodMs,
      batchMaxAgeMs: group.batchMaxAgeMs,
      secret: member.secret,
      flashPartition: SIM_FLASH.partition,
      // Each sample traced: what the expectations count as sampled.
      traceSamples: true,
      ...group.config,
    },
  };
}

export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<ScenarioReport> {
  const started = Date.now();
  const seed = options.seed ?? scenario.seed;
  const fleet = members(scenario, seed);
  const facts = new RunFacts();
  const trace = (record: Record<string, unknown>) => options.trace?.(JSON.stringify(record));
  const registered = fleet.filter((m) => m.group.registered).map(({ sensorId, secret }) => ({ sensorId, secret }));
  const onEvent = (at: number, event: string, detail: Record<string, unknown>) => trace({ t: at, event, ...detail });
  const world: World = scenario.time === "virtual"
    ? new VirtualWorld({ ...scenario, seed }, { registered, onEvent })
    : await RealWorld.create({ ...scenario, seed }, { registered, onEvent });
  const rebootAfter = new Map<string, number>();
  try {
    // Signals count from the scenario's start (a trace's first point is its first moment).
    const signalOrigin = scenario.time === "virtual" ? (scenario.startMs ?? VIRTUAL_EPOCH) : Date.now();
    // Devices stamp what they do with their clock; the scenario counts from its start.
    const since = (at: number) => at - world.origin;
    await world.startFleet(fleet.map((m) => specFor(m, world, signalOrigin)), {
      trace: (device, line, at) => {
        const t = since(at);
        facts.trace(device.sensorId, t, line);
        trace({ t, device: device.sensorId, trace: line });
      },
      halted: (device, reason, at) => {
        const t = since(at);
        facts.halted(device.sensorId, t, reason);
        trace({ t, device: device.sensorId, halted: reason });
        const after = rebootAfter.get(device.sensorId);
        if (after === undefined) return;
        rebootAfter.delete(device.sensorId);
        world.schedule(world.now() + after, () => act(`power on ${device.sensorId} after its power cut`, () => world.engine.powerOn(device)));
      },
      uncaught: (device, text, at) => {
        facts.uncaughtException(device.sensorId, since(at), text);
        trace({ t: since(at), device: device.sensorId, uncaught: text.split("\n")[0] });
      },
    });
    const engine = world.engine;
    options.onFleet?.(engine, world);
    const act = (what: string, run: () => unknown) => {
      facts.action(world.now(), what);
      trace({ t: world.now(), action: what });
      void Promise.resolve(run()).catch((error) => trace({ t: world.now(), action: what, failed: (error as Error).message }));
    };
    for (const member of fleet) {
      const device = engine.device(member.sensorId);
      world.schedule(member.group.bootAtMs, () => engine.powerOn(device));
    }
    for (const event of scenario.events) schedule(world, engine, event, fleet, act, rebootAfter, facts);
    const total = scenario.durationMs + scenario.drainMs;
    await world.runUntil(total, (at) => options.progress?.(at, total));
    return await report(scenario, seed, world, engine, facts, started);
  } finally {
    await world.close();
  }
}

function schedule(world: World, engine: FleetEngine, event: ScenarioEvent, fleet: Member[], act: (what: string, run: () => unknown) => void, rebootAfter: Map<string, number>, facts: RunFacts): void {
  const a = event.action;
  const chosen = (): Array<{ device: FleetDevice; member: Member }> => ("devices" in a ? fleet.filter((m) => matches(a.devices, m.sensorId)) : []).map((member) => ({ device: engine.device(member.sensorId), member }));
  const names = () => chosen().map(({ member }) => member.sensorId).join(", ");
  const undo = (what: string, run: () => void) => event.forMs !== undefined && world.schedule(event.atMs + event.forMs, () => act(what, run));
  world.schedule(event.atMs, () => {
    switch (a.kind) {
      case "cloud":
        return act(`cloud ${a.up ? "up" : "down"}`, () => world.setCloud(a.up));
      case "gateway":
        act(`gateway ${a.how}`, () => world.stopGateway(a.how));
        return world.schedule(event.atMs + a.downForMs, () => act("gateway back", () => world.startGateway()));
      case "faults":
        act(`faults ${JSON.stringify(a.faults)} on ${names()}`, () => chosen().forEach(({ device }) => engine.updateParts(device, [{ faults: a.faults }])));
        return undo(`faults cleared on ${names()}`, () => chosen().forEach(({ device, member }) => engine.updateParts(device, [{ faults: member.group.faults }])));
      case "signals":
        act(`signals ${Object.keys(a.signals).join(", ")} on ${names()}`, () => chosen().forEach(({ device }) => engine.updateParts(device, [{ signals: a.signals }])));
        return undo(`signals restored on ${names()}`, () => chosen().forEach(({ device, member }) => {
          const restore: PartSignals = {};
          const defaults = defaultSignals(member.seed);
          for (const q of Object.keys(a.signals) as Array<keyof PartSignals>) restore[q] = member.group.signals[q] ?? defaults[q];
          engine.updateParts(device, [{ signals: restore }]);
        }));
      case "power": {
        const toggle = (on: boolean) => chosen().forEach(({ device, member }) => {
          if (on) engine.powerOn(device);
          else {
            facts.poweredOff(member.sensorId, world.now());
            engine.powerOff(device);
          }
        });
        act(`power ${a.on ? "on" : "off"} ${names()}`, () => toggle(a.on));
        return undo(`power ${a.on ? "off" : "on"} ${names()}`, () => toggle(!a.on));
      }
      case "powerCut":
        return act(`power cut armed on ${names()}: the next ${a.during === "any" ? "flash operation" : a.during} after ${a.after}`, () => chosen().forEach(({ device, member }) => {
          rebootAfter.set(member.sensorId, a.rebootAfterMs);
          engine.cutPowerAfter(device, a.after, a.during);
        }));
      case "network": {
        act(`network ${JSON.stringify(a.conditions)} for ${names()}`, () => chosen().forEach(({ device }) => {
          world.setDeviceConditions(device.index, { ...engine.conditions(device.index), ...a.conditions, partitioned: a.conditions.partitioned ?? false });
        }));
        return undo(`network restored for ${names()}`, () => chosen().forEach(({ device }) => world.setDeviceConditions(device.index, undefined)));
      }
    }
  });
}

async function report(scenario: Scenario, seed: number, world: World, engine: FleetEngine, facts: RunFacts, started: number): Promise<ScenarioReport> {
  const maxErases = new Map<string, number>();
  const devices: DeviceReport[] = engine.devices.map((device) => {
    const flash = device.flashFigures();
    maxErases.set(device.sensorId, flash.maxErases);
    const samples = (facts.samples.get(device.sensorId) ?? []).filter((s) => s.at < scenario.durationMs);
    return {
      sensorId: device.sensorId,
      boots: facts.boots.get(device.sensorId)?.length ?? 0,
      samples: samples.length,
      atCloud: samples.filter((s) => world.entry(device.sensorId, s.seq)).length,
      powerCuts: facts.halts.filter((h) => h.sensorId === device.sensorId).length,
      uncaught: facts.uncaught.filter((u) => u.sensorId === device.sensorId).length,
      maxErases: flash.maxErases,
      flashRecords: flash.records,
    };
  });
  const expectations = evaluateExpectations(scenario.expectations, {
    facts,
    cloud: scenario.gateway.kind === "external" ? undefined : world,
    groups: scenario.groups,
    durationMs: scenario.durationMs,
    maxErases,
    rateLimited: await world.rateLimited(),
  });
  const sum = (f: (d: DeviceReport) => number) => devices.reduce((total, d) => total + f(d), 0);
  return {
    scenario: { name: scenario.name, file: scenario.file, time: scenario.time, seed, durationMs: scenario.durationMs, drainMs: scenario.drainMs },
    ok: expectations.every((e) => e.ok),
    wallMs: Date.now() - started,
    totals: {
      devices: devices.length,
      samples: sum((d) => d.samples),
      atCloud: sum((d) => d.atCloud),
      missing: sum((d) => d.samples - d.atCloud),
      powerCuts: sum((d) => d.powerCuts),
      uncaught: sum((d) => d.uncaught),
      boots: sum((d) => d.boots),
      maxErases: Math.max(0, ...devices.map((d) => d.maxErases)),
    },
    devices,
    world: world.summary(),
    expectations,
  };
}

export { formatDuration };
