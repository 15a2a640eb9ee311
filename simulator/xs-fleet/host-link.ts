/// <reference path="../xs-host/xsnap-globals.d.ts" />
/*
 * The worker's two ways to the host: a synchronous request for what a
 * device must have answered before it goes on (flash, preferences, I2C to a
 * part modelled on the host), and the step's output buffer, which the host
 * reads when the step ends (or mid-step, when it is full).
 */
import { FrameReader, MAX_FRAME_BYTES, Status } from "../xs-host/protocol.js";
import { OUTPUT_FLUSH_BYTES, REPLY_HEADER_BYTES, RecordWriter, WORKER } from "./fleet-protocol.js";

declare function issueCommand(request: ArrayBuffer): ArrayBuffer;

export class HostRequestError extends Error {
  // Defined, not assigned: Error.prototype is frozen, as on a board.
  override readonly name = "HostRequestError";
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** One writer for every request: requests never nest. */
const request = new RecordWriter(1024, MAX_FRAME_BYTES + 16);

/** Starts a request of device `device`, made at `at` on its clock (what the host's models of its parts see as now). */
export function hostRequest(device: number, at: number, op: number): RecordWriter {
  return request.reset().u32(device).f64(at).u8(op);
}

/** Sends the request built with hostRequest; the reply after its status byte. Throws on a status not accepted. */
export function sendRequest(accept: readonly number[] = [Status.OK]): { status: number; reply: FrameReader } {
  const reply = new FrameReader(issueCommand(request.finish()));
  const status = reply.u8();
  if (!accept.includes(status)) throw new HostRequestError(status, `simulator host refused request (status ${status})`);
  return { status, reply };
}

/** Output records of the current step, after a header the step fills in at its end. */
export const output = new RecordWriter(64 * 1024, OUTPUT_FLUSH_BYTES * 4);

export function resetOutput(): void {
  output.reset().f64(0).f64(0);
}

/** Hands the buffered records to the host now if the buffer is full, so one step's output stays bounded. */
export function flushOutputIfFull(): void {
  if (output.at < OUTPUT_FLUSH_BYTES) return;
  const records = output.view8().subarray(REPLY_HEADER_BYTES);
  const frame = new Uint8Array(4 + records.byteLength);
  new DataView(frame.buffer).setUint32(0, WORKER, true);
  frame.set(records, 4);
  issueCommand(frame.buffer);
  resetOutput();
}
