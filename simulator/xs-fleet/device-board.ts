/*
 * One simulated device of a fleet: its app bundle instantiated in a
 * Compartment of its own, whose module map resolves the Moddable specifiers
 * to this board's host modules (its own timers, clock, sockets, flash,
 * preferences, config, I2C and SMBus to its parts, value-level stand-ins
 * for drivers whose models run on the host) and whose globals are its own
 * (trace, a Date on its clock, a Math whose random() is seeded per device,
 * a System whose restart() power-cycles it). The compiled code of the
 * bundle and of the modules it links (a Moddable SDK driver) is shared by
 * every device that runs it; module instances and state are not.
 */
/// <reference path="./xs-compartment.d.ts" />
import { SimulatedI2C, type I2COptions } from "../xs-host/simulated-i2c.js";
import { smbusOver } from "../xs-host/simulated-smbus.js";
import { CRC8, CRC16 } from "../xs-host/crc.js";
import { valueSensorOver } from "../xs-host/value-sensor-driver.js";
import { DeviceClock, type FleetTime } from "./device-clock.js";
import { DeviceTimers } from "./device-timers.js";
import { DeviceSockets, FleetSocket, type TCPOptions } from "./device-socket.js";
import { FleetFlash, type Partition } from "./device-flash.js";
import { devicePreference } from "./device-preference.js";
import { deviceBus, type BuiltPart, type PartBuilder } from "./parts.js";
import { Output } from "./fleet-protocol.js";
import { flushOutputIfFull, hostRequest, output, sendRequest } from "./host-link.js";
import { checkPowered, PowerOff, type BoardContext } from "./board-context.js";

export interface BoardOptions {
  app: ModuleSource;
  /** Further modules the app imports, compiled, by specifier (a Moddable SDK driver). */
  modules: ReadonlyMap<string, ModuleSource>;
  /** Specifiers the app imports that value-level models on the host stand in for. */
  values: readonly string[];
  config: Record<string, unknown>;
  parts: unknown;
  /** Its preferences at boot, [domain, key, value]. */
  preferences: ReadonlyArray<readonly [string, string, unknown]>;
  /** Its flash partitions, by name. */
  partitions: ReadonlyMap<string, Partition>;
  seed: number;
  buildParts: PartBuilder;
  /** Told when the board's earliest timer may have moved (or it halted). */
  changed(board: DeviceBoard): void;
}

/** The specifier the app bundle is imported under inside its compartment. */
const APP_SPECIFIER = "xsedge:app";
/** Trace lines longer than this are cut: a runaway trace must not fill the step's output. */
const MAX_TRACE_CHARS = 4096;
/** The SDK's crc module: pure classes, the same for every device (frozen, as built-ins are). */
const CRC = harden({ default: CRC8, CRC8, CRC16 });

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}${error.stack ? "\n" + error.stack : ""}` : String(error);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class DeviceBoard implements BoardContext {
  readonly index: number;
  readonly clock: DeviceClock;
  readonly timers: DeviceTimers;
  readonly sockets = new DeviceSockets();
  readonly parts: BuiltPart[];
  halted = false;
  /** The deadline of this board's live entry in the fleet's scheduler (-1: none). */
  heapDeadline = -1;
  /** Queued for its deadline to be looked at again. */
  dirty = false;
  readonly #options: BoardOptions;

  constructor(index: number, fleet: FleetTime, options: BoardOptions) {
    this.index = index;
    this.#options = options;
    this.clock = new DeviceClock(fleet, options.config.clockSynced !== false);
    this.timers = new DeviceTimers(this.clock, () => options.changed(this));
    const clock = this.clock;
    this.parts = options.buildParts(options.parts, { now: () => clock.now(), seed: options.seed });
  }

  /** Instantiates the app in its compartment and runs its default export, as a board runs main() at boot. */
  boot(): void {
    const board = this;
    const clock = this.clock;
    const sockets = this.sockets;
    const bus = deviceBus(this, this.parts);
    class TCP extends FleetSocket {
      constructor(options: TCPOptions) {
        super(board, sockets, options);
      }
    }
    class I2C extends SimulatedI2C {
      constructor(options: I2COptions) {
        super(bus, options);
      }
    }
    const SMBus = smbusOver(I2C);
    const partitions = this.#options.partitions;
    class Flash extends FleetFlash {
      constructor(partition: string) {
        super(board, partitions, partition);
      }
    }
    class DeviceDate extends Date {
      constructor(...args: unknown[]) {
        if (args.length === 0) super(Math.floor(clock.wallNow()));
        else super(...(args as [string]));
      }
      static override now(): number {
        return Math.floor(clock.wallNow());
      }
    }
    const time = Object.freeze({
      get ticks() {
        return clock.ticks();
      },
      delta: (start: number, end?: number) => (end ?? clock.ticks()) - start,
      get microseconds() {
        return clock.ticks() * 1000;
      },
      set: (seconds: number) => clock.setWall(seconds),
      timezone: 0,
      dst: 0,
    });
    const trace = (...values: unknown[]) => {
      // A board without power prints nothing (code unwinding from System.restart(), say).
      if (board.halted) return;
      let text = "";
      for (const value of values) text += String(value);
      // Moddable's trace writes exactly what it is given; a trailing newline ends a line.
      if (text.endsWith("\n")) text = text.slice(0, -1);
      board.#output(Output.TRACE).text(text.length > MAX_TRACE_CHARS ? text.slice(0, MAX_TRACE_CHARS) : text);
      flushOutputIfFull();
    };
    const builtin = Object.freeze({
      io: Object.freeze({ I2C, SMBus }),
      I2C: Object.freeze({ default: Object.freeze({ data: 21, clock: 22, hz: 400_000 }) }),
      pin: Object.freeze({ sda: 21, scl: 22 }),
    });
    const math = Object.freeze(Object.create(Math, { random: { value: mulberry32(this.#options.seed) } }));
    const ns = (value: unknown) => ({ namespace: { default: value } });
    // The Moddable SDK's io manifest gives boards a global System; its restart() does not come back, so nothing runs after it here either.
    const system = Object.freeze({ restart: () => board.restart() });
    const linked: Record<string, unknown> = {};
    for (const [specifier, source] of this.#options.modules) linked[specifier] = { source };
    for (const specifier of this.#options.values) {
      linked[specifier] = ns(valueSensorOver(specifier, (op, handle, payload, accept) => {
        checkPowered(board);
        const request = hostRequest(board.index, clock.now(), op);
        if (handle !== undefined) request.u16(handle);
        if (payload !== undefined) request.tail(payload);
        return sendRequest(accept);
      }));
    }
    const compartment = new Compartment({
      globals: { trace: Object.assign(trace, { left: trace, center: trace, right: trace }), Date: DeviceDate, Math: math, System: system },
      modules: {
        ...linked,
        [APP_SPECIFIER]: { source: this.#options.app },
        timer: ns(this.timers.module),
        time: ns(time),
        flash: ns(Flash),
        preference: ns(devicePreference(this, this.#options.preferences)),
        "mc/config": ns(Object.freeze({ ...this.#options.config })),
        "embedded:io/i2c": ns(I2C),
        "embedded:io/smbus": ns(SMBus),
        crc: { namespace: CRC },
        "embedded:io/socket/tcp": ns(TCP),
        "embedded:provider/builtin": ns(builtin),
      },
    });
    const main = compartment.importNow(APP_SPECIFIER).default;
    if (typeof main !== "function") throw new TypeError("the app bundle's default export is not a function");
    (main as () => void)();
  }

  report(error: unknown): void {
    if (this.halted) return;
    this.#output(Output.UNCAUGHT).text(describeError(error));
    flushOutputIfFull();
  }

  /** The board lost power by itself (a cut in a flash operation): the host is told. */
  halt(reason: string): void {
    if (this.halted) return;
    this.powerOff();
    this.#output(Output.HALTED).text(reason);
  }

  /**
   * System.restart(): off now, and the host boots it again with the same
   * flash and preferences. It does not return, as a board's reset does not:
   * the PowerOff it throws unwinds the app to its event, which a halted
   * board does not report.
   */
  restart(): never {
    if (!this.halted) {
      this.powerOff();
      this.#output(Output.RESTART);
    }
    throw new PowerOff("restart");
  }

  /** Power off, as the host ordered it: timers and sockets are gone, every host module refuses. */
  powerOff(): void {
    this.halted = true;
    this.timers.clearAll();
    this.sockets.dropAll();
    this.#options.changed(this);
  }

  updateParts(changes: unknown): void {
    if (!Array.isArray(changes)) return;
    for (const change of changes as Array<{ address?: number }>) {
      for (const part of this.parts) if (change.address === undefined || change.address === part.address) part.update?.(change);
    }
  }

  /** Arms every partition's chip: the next flash operation after `operations` more (of `kind`) tears, and power goes. */
  cutPowerAfter(operations: number, kind: "any" | "write" | "erase", seed: number): void {
    for (const partition of this.#options.partitions.values()) partition.chip.cutPowerAfter(operations, seed, kind);
  }

  probe(): string {
    return JSON.stringify({
      halted: this.halted,
      timers: this.timers.count,
      fired: this.timers.fired,
      sockets: this.sockets.open.size,
      parts: this.parts.map((part) => ({ address: part.address, values: part.values?.() ?? null })),
    });
  }

  #output(kind: number) {
    return output.record(kind, this.index, this.clock.now());
  }
}
