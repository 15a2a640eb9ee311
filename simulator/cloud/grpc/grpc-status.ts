/*
 * Ending a gRPC call with a status of our choosing, logged with the reason
 * the client also sees.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../../../hosts/log/logger.js";

export type StatusError = Error & { code: grpc.status; details: string };

export function statusError(code: grpc.status, details: string): StatusError {
  return Object.assign(new Error(details), { code, details });
}

/** Ends a streaming call with `code`; what is already written is still delivered first. */
export function refuse(call: grpc.ServerDuplexStream<unknown, unknown>, code: grpc.status, details: string, log: Logger, method: string): void {
  log.warn(`${method} refused with ${grpc.status[code]}: ${details}`, { peer: call.getPeer() });
  call.emit("error", statusError(code, details));
}
