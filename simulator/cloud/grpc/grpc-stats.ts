/*
 * Counters of the cloud's gRPC side, read through Cloud.grpcStats() and
 * /healthz. Plain numbers: the reference cloud has no metrics endpoint.
 */
import { QUARANTINE_REASONS, type QuarantineReason } from "./quarantine-table.js";

export interface CloudGrpcStats {
  /** EventsBySlices calls streaming now. */
  producerStreamsOpen: number;
  /** Events sent on EventsBySlices (replay, live and ReplayReq). */
  eventsSent: number;
  /** ConsumeEvent calls streaming now. */
  consumerStreamsOpen: number;
  /** Events stored as new observations. */
  eventsConsumed: number;
  /** Events acknowledged that were stored before (a gateway's resend). */
  duplicates: number;
  /** FilteredEvents acknowledged (nothing to store). */
  filtered: number;
  /** Events acknowledged into quarantine, by reason (a resent one counts again). */
  quarantined: Record<QuarantineReason, number>;
  /** Calls ended with an error status we chose (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED). */
  callsRefused: number;
  /** Registrations through RegistrationService.Register. */
  registrations: number;
}

export function emptyGrpcStats(): CloudGrpcStats {
  const quarantined = Object.fromEntries(QUARANTINE_REASONS.map((reason) => [reason, 0])) as Record<QuarantineReason, number>;
  return {
    producerStreamsOpen: 0, eventsSent: 0, consumerStreamsOpen: 0, eventsConsumed: 0,
    duplicates: 0, filtered: 0, quarantined, callsRefused: 0, registrations: 0,
  };
}
