/// <reference path="../xs-host/xsnap-globals.d.ts" />
/// <reference path="./xs-compartment.d.ts" />
/*
 * The fleet worker's event loop: `handleCommand` takes one STEP from the
 * host (fleet-protocol.ts), delivers its inputs to the devices and fires
 * every timer that falls due, and answers with every device's outputs and
 * the earliest deadline left, for the host to come back at. In virtual time
 * (an exclusive window) it walks through the deadlines and inputs in order
 * of time (ties: inputs first, then the lower device index); in real time
 * the clock is the host's, so a step that comes late fires each late timer
 * once, as a busy board would, instead of replaying every missed period.
 */
import { FrameReader, fromUtf8 } from "../xs-host/protocol.js";
import { DeadlineHeap } from "./deadline-heap.js";
import { DeviceBoard, describeError } from "./device-board.js";
import type { FleetTime } from "./device-clock.js";
import { CUT_KINDS, Input, NO_DEADLINE, Output, STEP, StepFlags, WORKER } from "./fleet-protocol.js";
import { output, resetOutput } from "./host-link.js";
import type { PartBuilder } from "./parts.js";
import type { ChipFactory, Partition } from "./device-flash.js";

export interface FleetRuntimeOptions {
  buildParts: PartBuilder;
  /** The NOR model each partition's chip is. */
  createChip: ChipFactory;
}

/** Device turns per step beyond the fleet's size: past this a step ends early and says how far it got. */
const EXTRA_TURNS_PER_STEP = 10_000;

const fleet: FleetTime = { now: 0 };
const apps: Array<ModuleSource | undefined> = [];
const boards: Array<DeviceBoard | undefined> = [];
const heap = new DeadlineHeap();
const dirty: DeviceBoard[] = [];
let buildParts: PartBuilder;
let createChip: ChipFactory;
let booted = 0;

function changed(board: DeviceBoard): void {
  if (board.dirty) return;
  board.dirty = true;
  dirty.push(board);
}

/** Puts every board whose timers changed back in the heap at its new earliest deadline. */
function settle(): void {
  for (const board of dirty) {
    board.dirty = false;
    const next = board.halted ? NO_DEADLINE : board.timers.next();
    if (next === board.heapDeadline) continue;
    board.heapDeadline = next;
    if (next !== NO_DEADLINE) heap.push(next, board.index);
  }
  dirty.length = 0;
}

/** The board at the top of the heap whose entry is still current, or undefined. */
function top(): DeviceBoard | undefined {
  settle();
  while (heap.size > 0) {
    const board = boards[heap.topDevice()];
    if (board && !board.halted && board.heapDeadline === heap.topDeadline()) return board;
    heap.pop();
  }
  return undefined;
}

/** Fires timers due before `limit` (or at it, when not exclusive); false when the turn budget ran out first. */
function runTimers(limit: number, exclusive: boolean, budget: { turns: number }): boolean {
  for (;;) {
    const board = top();
    if (!board) return true;
    const deadline = heap.topDeadline();
    if (exclusive ? deadline >= limit : deadline > limit) return true;
    if (budget.turns-- <= 0) return false;
    heap.pop();
    board.heapDeadline = NO_DEADLINE;
    if (deadline > fleet.now) fleet.now = deadline;
    board.timers.fireDue((error) => board.report(error));
    changed(board);
  }
}

const json = (event: FrameReader) => JSON.parse(fromUtf8(event.bytes(event.u32()))) as unknown;

function readPartitions(event: FrameReader, seed: number): Map<string, Partition> {
  const partitions = new Map<string, Partition>();
  const count = event.u8();
  for (let index = 0; index < count; index++) {
    const name = fromUtf8(event.bytes(event.u32()));
    const blockSize = event.u32();
    const blocks = event.u32();
    const bytes = event.bytes(event.u32()).slice();
    const wear = event.bytes(event.u32()).slice();
    const chip = createChip({ blockSize, blocks, seed }, bytes, new Uint32Array(wear.buffer, 0, wear.byteLength >> 2));
    partitions.set(name, { index, name, chip });
  }
  return partitions;
}

function boot(index: number, event: FrameReader): void {
  const app = apps[event.u16()];
  const seed = event.u32();
  const config = json(event) as Record<string, unknown>;
  const parts = json(event);
  const preferences = json(event) as Array<[string, string, unknown]>;
  const partitions = readPartitions(event, seed);
  const links = json(event) as { modules?: Record<string, number>; values?: string[] };
  boards[index]?.powerOff();
  const modules = new Map<string, ModuleSource>();
  for (const [specifier, id] of Object.entries(links.modules ?? {})) {
    const source = apps[id];
    if (source) modules.set(specifier, source);
  }
  if (!app || modules.size !== Object.keys(links.modules ?? {}).length) {
    output.record(Output.HALTED, index, fleet.now).text("no such app bundle or module compiled in this worker");
    return;
  }
  let board: DeviceBoard | undefined;
  try {
    board = new DeviceBoard(index, fleet, { app, modules, values: links.values ?? [], config, parts, preferences, partitions, seed, buildParts, changed });
    boards[index] = board;
    booted++;
    board.boot();
  } catch (error) {
    // As on a board, an exception out of main() leaves the device running whatever it set up before.
    if (board) board.report(error);
    else output.record(Output.HALTED, index, fleet.now).text(describeError(error));
  }
}

function dispatch(kind: number, index: number, event: FrameReader): void {
  if (kind === Input.COMPILE) {
    const id = event.u16();
    const source = fromUtf8(event.bytes(event.u32()));
    let error = "";
    try {
      apps[id] = new ModuleSource(source);
    } catch (e) {
      error = describeError(e);
    }
    output.record(Output.COMPILED, WORKER, fleet.now).u16(id).text(error);
    return;
  }
  if (kind === Input.BOOT) {
    boot(index, event);
    return;
  }
  const board = boards[index];
  switch (kind) {
    case Input.HALT:
      board?.powerOff();
      boards[index] = undefined;
      return;
    case Input.TCP_WRITABLE: {
      // Every field is read whether or not the socket is still there: the next record follows it.
      const socket = board?.sockets.open.get(event.u16());
      const count = event.u32();
      socket?._writable(count);
      return;
    }
    case Input.TCP_DATA: {
      const socket = board?.sockets.open.get(event.u16());
      const bytes = event.bytes(event.u32());
      socket?._data(bytes);
      return;
    }
    case Input.TCP_ERROR: {
      const socket = board?.sockets.open.get(event.u16());
      const reason = fromUtf8(event.bytes(event.u32()));
      socket?._error(reason);
      return;
    }
    case Input.PARTS: {
      const changes = JSON.parse(fromUtf8(event.bytes(event.u32()))) as unknown;
      board?.updateParts(changes);
      return;
    }
    case Input.POWER_CUT: {
      const operations = event.u32();
      const kind = CUT_KINDS[event.u8()] ?? "any";
      const seed = event.u32();
      board?.cutPowerAfter(operations, kind, seed);
      return;
    }
    case Input.PROBE:
      output.record(Output.PROBED, index, fleet.now).text(board ? board.probe() : JSON.stringify({ halted: true }));
      return;
    default:
      throw new RangeError(`unknown fleet input ${kind}`);
  }
}

function step(bytes: ArrayBuffer): { readonly result: ArrayBuffer } {
  resetOutput();
  const event = new FrameReader(bytes);
  const op = event.u8();
  if (op !== STEP) throw new RangeError(`unknown fleet command ${op}`);
  const exclusive = (event.u8() & StepFlags.EXCLUSIVE) !== 0;
  const until = event.f64();
  const budget = { turns: booted + EXTRA_TURNS_PER_STEP };
  let complete = true;
  try {
    // Real time: the host's clock is `until`, and a timer that fell due while the worker was busy fires once,
    // late, as on a board. Virtual time walks through every deadline in order.
    if (!exclusive && until > fleet.now) fleet.now = until;
    while (complete && event.remaining > 0) {
      const kind = event.u8();
      const index = event.u32();
      const at = event.f64();
      if (exclusive) {
        // Timers due before an input fire first; at the same time the input goes first.
        complete = runTimers(at, true, budget);
        if (at > fleet.now) fleet.now = at;
      }
      dispatch(kind, index, event);
    }
    if (complete) complete = runTimers(until, exclusive, budget);
  } catch (error) {
    output.record(Output.UNCAUGHT, WORKER, fleet.now).text(describeError(error));
  }
  const reached = complete ? until : fleet.now;
  // Read after xsnap has run the promise jobs this step queued, which may set timers.
  return {
    get result(): ArrayBuffer {
      const board = top();
      output.patchF64(0, board ? heap.topDeadline() : NO_DEADLINE);
      output.patchF64(8, reached);
      return output.finish();
    },
  };
}

function installModdableExtensions(): void {
  // XS on a board has these; xsnap does not.
  const bufferCtor = ArrayBuffer as unknown as Record<string, unknown>;
  bufferCtor.fromString ??= (text: string) => new TextEncoder().encode(text).slice().buffer;
  const stringCtor = String as unknown as Record<string, unknown>;
  stringCtor.fromArrayBuffer ??= (buffer: ArrayBuffer) => new TextDecoder().decode(buffer);
}

/**
 * The built-ins every compartment shares are frozen, as they are in a
 * board's ROM: one device cannot change what another's Array or JSON does,
 * and code that assigns over an inherited read-only property (an error
 * class doing `this.name = ...` over Error.prototype's) throws here as it
 * does there.
 */
function freezeIntrinsics(): void {
  const g = globalThis as Record<string, unknown>;
  const shared: object[] = [];
  for (const name of Object.getOwnPropertyNames(g)) {
    if (name === "globalThis" || name === "handleCommand") continue;
    const value = g[name];
    if ((typeof value === "function" || (typeof value === "object" && value !== null)) && value !== g) shared.push(value as object);
  }
  for (const value of shared) harden(value);
}

export function install(options: FleetRuntimeOptions): void {
  buildParts = options.buildParts;
  createChip = options.createChip;
  installModdableExtensions();
  freezeIntrinsics();
  (globalThis as Record<string, unknown>).handleCommand = step;
}
