/// <reference path="./xsnap-globals.d.ts" />
/*
 * Boots a device bundle inside xsnap-worker: installs `handleCommand`, which
 * turns each host event into what a Moddable board's event loop would do
 * (fire timers, deliver socket callbacks), and the globals a Moddable app
 * expects (`trace`, a Date that follows the host's clock).
 */
import { markBoot, now, setHostNow, wallNow } from "./clock.js";
import { Event, EVENT_HEADER_BYTES, FrameReader, FrameWriter, LogLevel, NO_DEADLINE, Request, Status, fromUtf8 } from "./protocol.js";
import { frame, log, reportUncaught, request } from "./bridge.js";
import { fireDueTimers, nextDeadline } from "./timer.js";
import { socketById } from "./tcp.js";
import { applyConfig } from "./config.js";

type Main = () => void;

const reply = new FrameWriter(8);

function traceToHost(...values: unknown[]): void {
  let text = "";
  for (const value of values) text += String(value);
  // Moddable's trace writes exactly what it is given; a trailing newline ends a line.
  log(LogLevel.TRACE, text.endsWith("\n") ? text.slice(0, -1) : text);
}

function installGlobals(): void {
  const g = globalThis as Record<string, unknown>;
  g.trace = Object.assign(traceToHost, { left: traceToHost, center: traceToHost, right: traceToHost });
  // XS on a board has these Moddable extensions; xsnap does not.
  const bufferCtor = ArrayBuffer as unknown as Record<string, unknown>;
  bufferCtor.fromString ??= (text: string) => new TextEncoder().encode(text).slice().buffer;
  const stringCtor = String as unknown as Record<string, unknown>;
  stringCtor.fromArrayBuffer ??= (buffer: ArrayBuffer) => new TextDecoder().decode(buffer);
  const RealDate = Date;
  // The device's wall clock is the host's (possibly virtual) clock, not the machine's.
  RealDate.now = () => Math.floor(wallNow());
  g.Date = RealDate;
  // The Moddable SDK's io manifest gives boards a global System with restart(); the host power-cycles the device.
  g.System ??= Object.freeze({
    restart(): void {
      const { status } = request(frame(Request.RESTART), [Status.OK, Status.REFUSED]);
      if (status !== Status.OK) throw new Error("this simulator does not restart devices");
    },
  });
}

/**
 * A board's XS has its built-ins in ROM, frozen (the SDK preloads them), and
 * code that assigns over an inherited read-only property, such as an error
 * class doing `this.name = ...` over Error.prototype's, throws there. The
 * simulator freezes the built-in prototypes likewise, so such code fails
 * here first.
 */
function freezePrimordials(): void {
  const g = globalThis as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(g)) {
    const value = g[name];
    if (typeof value === "function" && /^[A-Z]/.test(name) && typeof (value as { prototype?: unknown }).prototype === "object") {
      Object.freeze((value as { prototype: object }).prototype);
    }
  }
  Object.freeze(Object.getPrototypeOf(Int8Array.prototype));
}

function dispatch(type: number, event: FrameReader, main: Main): void {
  switch (type) {
    case Event.BOOT: {
      const config = JSON.parse(fromUtf8(event.tail())) as Record<string, unknown>;
      markBoot(config.clockSynced !== false);
      applyConfig(config);
      main();
      break;
    }
    case Event.TICK:
      break;
    case Event.TCP_WRITABLE: {
      const socket = socketById(event.u16());
      socket?._writable(event.u32());
      break;
    }
    case Event.TCP_DATA: {
      const socket = socketById(event.u16());
      socket?._data(event.tail());
      break;
    }
    case Event.TCP_ERROR: {
      const socket = socketById(event.u16());
      socket?._error(fromUtf8(event.tail()));
      break;
    }
    default:
      throw new RangeError(`unknown simulator event ${type}`);
  }
}

export function install(main: Main): void {
  installGlobals();
  freezePrimordials();
  (globalThis as Record<string, unknown>).handleCommand = (bytes: ArrayBuffer) => {
    if (bytes.byteLength < EVENT_HEADER_BYTES) throw new RangeError(`simulator event of ${bytes.byteLength} bytes is too short`);
    const event = new FrameReader(bytes);
    const type = event.u8();
    setHostNow(event.f64());
    try {
      dispatch(type, event, main);
    } catch (error) {
      reportUncaught(error);
    }
    fireDueTimers();
    // Read after xsnap has run the promise jobs this event queued, which may set timers.
    return {
      get result(): ArrayBuffer {
        const next = nextDeadline();
        return reply.reset().f64(next < 0 ? NO_DEADLINE : Math.max(next, now())).finish();
      },
    };
  };
}
