/*
 * One fleet worker seen from Node: an xsnap-worker started from the fleet
 * snapshot (worker-snapshot.ts) that runs many devices. Inputs for its
 * devices are queued as records and go in the next step; a step's outputs
 * come back through `outputs`, in the order the devices produced them.
 * While a step runs, the devices' synchronous requests (flash, preferences,
 * I2C to a host-modelled part) are answered by `onRequest` from the reading
 * loop, as XS waits for them.
 */
import { readFileSync } from "node:fs";
import type { Logger } from "../../hosts/log/logger.js";
import { FrameReader, fromUtf8 } from "../xs-host/protocol.js";
import {
  Input, MAX_STEP_INPUT_BYTES, NO_DEADLINE, Output, RecordWriter, STEP, STEP_HEADER_BYTES, StepFlags, WORKER,
} from "../xs-fleet/fleet-protocol.js";
import { XsnapWorker } from "./xsnap-worker.js";
import { cpuTimeMs } from "../../hosts/proc/process-cpu.js";

export { Input, NO_DEADLINE };

/** What a step's output records say, one call per record. Byte views are valid during the call only. */
export interface FleetOutputs {
  tcpOpen(device: number, at: number, socket: number, address: string, port: number): void;
  tcpWrite(device: number, at: number, socket: number, bytes: Uint8Array): void;
  tcpClose(device: number, at: number, socket: number): void;
  trace(device: number, at: number, line: string): void;
  uncaught(device: number, at: number, text: string): void;
  halted(device: number, at: number, reason: string): void;
  /** The app called System.restart(): the device is off in its worker, for the host to boot again. */
  restart(device: number, at: number): void;
  probed(device: number, at: number, json: string): void;
  compiled(app: number, error: string): void;
  /** The device's flash partition now holds `bytes` at `offset`. */
  flashWrite(device: number, at: number, partition: number, offset: number, bytes: Uint8Array): void;
  /** The device erased a block: its count of erases, and what it holds now. */
  flashErase(device: number, at: number, partition: number, block: number, count: number, bytes: Uint8Array): void;
  /** A preference the device set (value undefined: deleted). */
  preference(device: number, at: number, domain: string, key: string, value: boolean | number | string | Uint8Array | undefined): void;
}

export interface FleetWorkerOptions {
  name: string;
  snapshot: string;
  outputs: FleetOutputs;
  /** A device's synchronous request, made at `at` on its clock ([op][payload], as ../xs-host/protocol.ts frames it): the reply frame. */
  onRequest(device: number, at: number, request: Uint8Array): Uint8Array;
  logger?: Logger;
}

export interface StepResult {
  /** The earliest timer deadline left in the worker, or NO_DEADLINE. */
  next: number;
  /** How far the worker got: `until`, unless it stopped early (too many timers due at once). */
  reached: number;
}

const EMPTY = new Uint8Array(0);
const OK = Uint8Array.of(0);

export class FleetWorker {
  readonly name: string;
  readonly #worker: XsnapWorker;
  readonly #options: FleetWorkerOptions;
  readonly #inputs = new RecordWriter(64 * 1024, MAX_STEP_INPUT_BYTES * 16);
  #records = 0;
  #heapSlots = 0;
  #compute = 0;
  #allocated = 0;
  #steps = 0;

  constructor(options: FleetWorkerOptions) {
    this.name = options.name;
    this.#options = options;
    this.#inputs.reset().u8(STEP).u8(0).f64(0);
    this.#worker = new XsnapWorker({
      name: options.name,
      snapshot: options.snapshot,
      onQuery: (request) => this.#answer(request),
      onPrint: (line) => options.logger?.debug("xs print", { worker: options.name, line }),
      onQueryError: (error) => options.logger?.error("simulator host failed a device request", { worker: options.name, error }),
    });
  }

  get exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.#worker.exited;
  }

  get pid(): number | undefined {
    return this.#worker.pid;
  }

  /** Input bytes queued for the next step: a socket bridge pauses its sockets when this is large. */
  get pendingInputBytes(): number {
    return this.#inputs.at - STEP_HEADER_BYTES;
  }

  get pendingInputs(): number {
    return this.#records;
  }

  /** Live XS heap slots as of the last step (32 bytes each here). */
  get heapSlots(): number {
    return this.#heapSlots;
  }

  /** XS's own measure of work done in steps so far (its meter's "compute"). */
  get compute(): number {
    return this.#compute;
  }

  /** Bytes XS has allocated for its heaps (slots and chunks), as of the last step. */
  get allocatedBytes(): number {
    return this.#allocated;
  }

  get steps(): number {
    return this.#steps;
  }

  /** Queues an input record; the caller writes its payload on the writer returned. */
  input(kind: number, device: number, at: number): RecordWriter {
    this.#records++;
    return this.#inputs.record(kind, device, at);
  }

  compile(app: number, source: string, at: number): void {
    this.input(Input.COMPILE, 0, at).u16(app).text(source);
  }

  /** Sends the queued inputs and runs the worker's devices up to `until` (a window's end, not included, when `exclusive`). */
  async step(until: number, exclusive = false): Promise<StepResult> {
    const frame = this.#inputs;
    frame.patchF64(2, until);
    const bytes = frame.view8();
    bytes[1] = exclusive ? StepFlags.EXCLUSIVE : 0;
    const message = bytes.slice();
    frame.reset().u8(STEP).u8(0).f64(0);
    this.#records = 0;
    this.#steps++;
    const { reply, meter } = await this.#worker.command(message);
    this.#heapSlots = meter.currentHeapCount;
    this.#compute += meter.compute;
    this.#allocated = meter.allocate;
    const reader = new FrameReader(reply);
    const next = reader.f64();
    const reached = reader.f64();
    this.#parse(reader);
    return { next, reached };
  }

  /** Runs a line of code in the worker (a benchmark's gc()). */
  async evaluate(code: string): Promise<number> {
    const { meter } = await this.#worker.evaluate(code);
    this.#heapSlots = meter.currentHeapCount;
    return meter.currentHeapCount;
  }

  /** CPU time the worker process has used, in ms (Linux /proc; 0 elsewhere). */
  cpuMs(): number {
    return cpuTimeMs(this.pid) ?? 0;
  }

  /** Resident memory of the worker process, in bytes (Linux /proc; 0 elsewhere). */
  rssBytes(): number {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, "utf8"));
      return match ? Number(match[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  }

  async close(): Promise<void> {
    await this.#worker.close();
  }

  #answer(request: Uint8Array): Uint8Array {
    const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
    const device = view.getUint32(0, true);
    if (device === WORKER) {
      this.#parse(new FrameReader(request.subarray(4)));
      return OK;
    }
    return this.#options.onRequest(device, view.getFloat64(4, true), request.subarray(12)) ?? EMPTY;
  }

  #parse(reader: FrameReader): void {
    const out = this.#options.outputs;
    while (reader.remaining > 0) {
      const kind = reader.u8();
      const device = reader.u32();
      const at = reader.f64();
      switch (kind) {
        case Output.TCP_OPEN: {
          const socket = reader.u16();
          const port = reader.u16();
          out.tcpOpen(device, at, socket, fromUtf8(reader.bytes(reader.u32())), port);
          break;
        }
        case Output.TCP_WRITE: {
          const socket = reader.u16();
          out.tcpWrite(device, at, socket, reader.bytes(reader.u32()));
          break;
        }
        case Output.TCP_CLOSE:
          out.tcpClose(device, at, reader.u16());
          break;
        case Output.TRACE:
          out.trace(device, at, fromUtf8(reader.bytes(reader.u32())));
          break;
        case Output.UNCAUGHT:
          out.uncaught(device, at, fromUtf8(reader.bytes(reader.u32())));
          break;
        case Output.HALTED:
          out.halted(device, at, fromUtf8(reader.bytes(reader.u32())));
          break;
        case Output.RESTART:
          out.restart(device, at);
          break;
        case Output.PROBED:
          out.probed(device, at, fromUtf8(reader.bytes(reader.u32())));
          break;
        case Output.FLASH_WRITE: {
          const partition = reader.u8();
          const offset = reader.u32();
          out.flashWrite(device, at, partition, offset, reader.bytes(reader.u32()));
          break;
        }
        case Output.FLASH_ERASE: {
          const partition = reader.u8();
          const block = reader.u32();
          const count = reader.u32();
          out.flashErase(device, at, partition, block, count, reader.bytes(reader.u32()));
          break;
        }
        case Output.PREFERENCE: {
          const [domain, key, value] = JSON.parse(fromUtf8(reader.bytes(reader.u32()))) as [string, string, unknown];
          out.preference(device, at, domain, key, value === null ? undefined : Array.isArray(value) ? Uint8Array.from(value as number[]) : (value as boolean | number | string));
          break;
        }
        case Output.COMPILED: {
          const app = reader.u16();
          out.compiled(app, fromUtf8(reader.bytes(reader.u32())));
          break;
        }
        default:
          throw new RangeError(`${this.name}: unknown output record ${kind}`);
      }
    }
  }
}
