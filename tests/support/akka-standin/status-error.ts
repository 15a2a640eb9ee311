/*
 * A refusal with the gRPC status it is answered with, so the pure protocol
 * code can say "INVALID_ARGUMENT, because ..." without touching a call.
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { Metadata } from "@grpc/grpc-js";

export type StatusName = "INVALID_ARGUMENT" | "NOT_FOUND" | "PERMISSION_DENIED" | "UNIMPLEMENTED" | "UNAVAILABLE" | "INTERNAL";

export class StatusError extends Error {
  constructor(readonly code: StatusName, message: string) {
    super(message);
    this.name = "StatusError";
  }
}

/** What grpc-js sends as the call's status (code, details). */
export function serviceError(error: StatusError): ServiceError {
  return Object.assign(new Error(error.message), { code: status[error.code], details: error.message, metadata: new Metadata() });
}

/** `error` if it is a refusal; anything else (a stand-in bug, a SQLite failure) becomes INTERNAL rather than a crash or a hung call. */
export function asStatusError(error: unknown): StatusError {
  if (error instanceof StatusError) return error;
  return new StatusError("INTERNAL", `the stand-in failed: ${error instanceof Error ? error.message : String(error)}`);
}
