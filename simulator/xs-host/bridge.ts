/*
 * The XS side of the bridge: the one place that calls xsnap's synchronous
 * `issueCommand`. Host modules build a frame, call `request`, and read the
 * reply, just as a native Moddable module would call into C.
 */
import { FrameReader, FrameWriter, LogLevel, MAX_FRAME_BYTES, Request, Status, utf8 } from "./protocol.js";

declare function issueCommand(request: ArrayBuffer): ArrayBuffer;

export class HostRequestError extends Error {
  // Defined, not assigned: on a board Error.prototype is frozen, and assigning over its name throws.
  override readonly name = "HostRequestError";
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** One writer reused for every request: requests never nest. */
const writer = new FrameWriter(MAX_FRAME_BYTES);

export function frame(op: number): FrameWriter {
  return writer.reset().u8(op);
}

/** Sends a request; returns the reply after its status byte. Throws on a non-OK status unless accepted. */
export function request(built: FrameWriter, accept: readonly number[] = [Status.OK]): { status: number; reply: FrameReader } {
  const reply = new FrameReader(issueCommand(built.finish()));
  const status = reply.u8();
  if (!accept.includes(status)) throw new HostRequestError(status, `simulator host refused request (status ${status})`);
  return { status, reply };
}

export function log(level: number, text: string): void {
  request(frame(Request.LOG).u8(level).tail(utf8(text)));
}

export function reportUncaught(error: unknown): void {
  const text = error instanceof Error ? `${error.name}: ${error.message}${error.stack ? "\n" + error.stack : ""}` : String(error);
  request(frame(Request.UNCAUGHT).tail(utf8(text)));
}

export { LogLevel };
