/*
 * The board a simulated device runs on, as the device's host modules see it:
 * the answers to their synchronous requests (log lines, Timer.delay, TCP,
 * I2C, preferences, flash). XS is blocked while a request is answered, so
 * every answer is computed synchronously; a fault in the board's parts
 * (an illegal flash write, a power cut) is answered as a status, never lost.
 */
import type { Logger } from "../../hosts/log/logger.js";
import type { BlockDevice } from "../../modules/storage/block-device.js";
import {
  FrameReader, FrameWriter, LogLevel, MAX_FRAME_BYTES, PrefType, Request, Status, fromUtf8, utf8,
} from "../xs-host/protocol.js";
import type { HostClock } from "./host-clock.js";
import type { I2cBus } from "./i2c-bus.js";
import type { PreferenceStore, PreferenceValue } from "./preference-store.js";
import type { TcpBridge } from "./tcp-bridge.js";

/**
 * Requests beyond the board's own (a restart, value-level sensor models):
 * answers into `out` and returns true, or returns false to leave `op` to
 * the default answer.
 */
export type ExtraRequests = (op: number, request: FrameReader, out: FrameWriter) => boolean;

export interface HostServicesOptions {
  name: string;
  /** Without a clock and a TCP bridge (a fleet device: its worker keeps both), those requests are refused. */
  clock?: HostClock;
  tcp?: TcpBridge;
  i2c: I2cBus;
  preferences: PreferenceStore;
  /** Flash partitions by name, as `new Flash(name)` opens them. */
  flash: Record<string, BlockDevice>;
  logger?: Logger;
  onTrace?: (line: string) => void;
  extraRequests?: ExtraRequests;
}

/** One answer buffer for every device: requests are answered one at a time, and each answer is copied out. */
const answer = new FrameWriter(MAX_FRAME_BYTES);

export class HostServices {
  readonly counts = { traces: 0, uncaught: 0, flashFaults: 0 };
  private readonly options: HostServicesOptions;
  /** Partitions the device has opened, by the handle it was given. */
  private readonly opened: BlockDevice[] = [];

  constructor(options: HostServicesOptions) {
    this.options = options;
  }

  handle(bytes: Uint8Array): Uint8Array {
    const request = new FrameReader(bytes);
    const op = request.u8();
    const out = answer.reset();
    if (op >= Request.PREF_GET && op <= Request.PREF_KEYS) this.preference(op, request, out);
    else if (op >= Request.FLASH_OPEN && op <= Request.FLASH_ERASE) this.flash(op, request, out);
    else this.board(op, request, out);
    return new Uint8Array(out.finish());
  }

  private board(op: number, request: FrameReader, out: FrameWriter): void {
    const { tcp, i2c, logger, name } = this.options;
    switch (op) {
      case Request.LOG: {
        const level = request.u8();
        const text = fromUtf8(request.tail());
        this.counts.traces++;
        this.options.onTrace?.(text);
        if (level !== LogLevel.TRACE) logger?.warn("device log", { device: name, text });
        out.u8(Status.OK);
        break;
      }
      case Request.UNCAUGHT:
        this.counts.uncaught++;
        logger?.error("uncaught exception on device", { device: name, error: fromUtf8(request.tail()) });
        out.u8(Status.OK);
        break;
      case Request.DELAY:
        if (!this.options.clock) out.u8(Status.REFUSED);
        else {
          this.options.clock.delay(request.f64());
          out.u8(Status.OK);
        }
        break;
      case Request.TCP_OPEN: {
        if (!tcp) {
          out.u8(Status.REFUSED);
          break;
        }
        const id = request.u16();
        const port = request.u16();
        out.u8(tcp.open(id, fromUtf8(request.tail()), port) ? Status.OK : Status.REFUSED);
        break;
      }
      case Request.TCP_WRITE: {
        const id = request.u16();
        const writable = tcp?.write(id, request.tail());
        if (writable === undefined) out.u8(Status.REFUSED);
        else out.u8(Status.OK).u32(writable);
        break;
      }
      case Request.TCP_CLOSE:
        out.u8(tcp?.close(request.u16()) ? Status.OK : Status.REFUSED);
        break;
      case Request.I2C_WRITE: {
        const address = request.u8();
        const stop = request.u8() === 1;
        out.u8(i2c.write(address, request.tail(), stop) ? Status.OK : Status.NACK);
        break;
      }
      case Request.I2C_READ: {
        const address = request.u8();
        const stop = request.u8() === 1;
        const data = i2c.read(address, request.u16(), stop);
        if (data) out.u8(Status.OK).tail(data);
        else out.u8(Status.NACK);
        break;
      }
      default:
        if (this.options.extraRequests?.(op, request, out)) break;
        // A board without these: it cannot restart, and no value model stands in for any driver.
        if (op === Request.RESTART) out.u8(Status.REFUSED);
        else if (op === Request.SENSOR_OPEN) out.u8(Status.MISSING);
        else throw new RangeError(`unknown device request 0x${op.toString(16)}`);
    }
  }

  private flash(op: number, request: FrameReader, out: FrameWriter): void {
    if (op === Request.FLASH_OPEN) {
      const chip = this.options.flash[fromUtf8(request.tail())];
      if (!chip) {
        out.u8(Status.MISSING);
        return;
      }
      let handle = this.opened.indexOf(chip);
      if (handle < 0) handle = this.opened.push(chip) - 1;
      out.u8(Status.OK).u8(handle).u32(chip.byteLength).u32(chip.blockSize);
      return;
    }
    const chip = this.opened[request.u8()];
    if (!chip) {
      out.u8(Status.REFUSED);
      return;
    }
    try {
      if (op === Request.FLASH_READ) {
        const offset = request.u32();
        out.u8(Status.OK).tail(new Uint8Array(chip.read(offset, request.u32()) as ArrayBuffer));
      } else if (op === Request.FLASH_WRITE) {
        const offset = request.u32();
        const bytes = request.tail().slice();
        chip.write(offset, bytes.byteLength, bytes.buffer);
        out.u8(Status.OK);
      } else {
        chip.erase(request.u32());
        out.u8(Status.OK);
      }
    } catch (error) {
      this.counts.flashFaults++;
      // A power cut (the NOR model's PowerCut) is told apart: it powers the board off, an illegal write does not.
      out.reset().u8((error as Error).name === "PowerCut" ? Status.POWER_OFF : Status.FAILED).tail(utf8((error as Error).message));
    }
  }

  private preference(op: number, request: FrameReader, out: FrameWriter): void {
    const preferences = this.options.preferences;
    switch (op) {
      case Request.PREF_GET: {
        const [domain, key] = fromUtf8(request.tail()).split("\0");
        writePreference(out, preferences.get(domain, key));
        break;
      }
      case Request.PREF_SET: {
        const [domain, key] = fromUtf8(request.bytes(request.u16())).split("\0");
        preferences.set(domain, key, readPreference(request));
        out.u8(Status.OK);
        break;
      }
      case Request.PREF_DELETE: {
        const [domain, key] = fromUtf8(request.tail()).split("\0");
        out.u8(preferences.delete(domain, key) ? Status.OK : Status.MISSING);
        break;
      }
      default:
        out.u8(Status.OK).tail(utf8(preferences.keys(fromUtf8(request.tail())).join("\0")));
    }
  }
}

function writePreference(out: FrameWriter, value: PreferenceValue | undefined): void {
  if (value === undefined) out.u8(Status.MISSING);
  else if (typeof value === "boolean") out.u8(Status.OK).u8(PrefType.BOOLEAN).u8(value ? 1 : 0);
  else if (typeof value === "number") out.u8(Status.OK).u8(PrefType.INTEGER).u32(value >>> 0);
  else if (typeof value === "string") out.u8(Status.OK).u8(PrefType.STRING).tail(utf8(value));
  else out.u8(Status.OK).u8(PrefType.BUFFER).tail(value);
}

function readPreference(reader: FrameReader): PreferenceValue {
  const type = reader.u8();
  switch (type) {
    case PrefType.BOOLEAN: return reader.u8() !== 0;
    case PrefType.INTEGER: return reader.u32() | 0;
    case PrefType.STRING: return fromUtf8(reader.tail());
    case PrefType.BUFFER: return reader.tail().slice();
    default: throw new RangeError(`unknown preference type ${type}`);
  }
}
