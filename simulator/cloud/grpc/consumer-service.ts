/*
 * EventConsumerService.ConsumeEvent: gateways push their observations.
 *
 * Every event is committed to SQLite, and the commit synced to disk, before
 * its ConsumerEventAck is written: the gateway forgets what is acked. Events
 * that arrive together (the gateway keeps several in flight) share one
 * transaction; groups committed while a sync runs share the next one
 * (cloud-store.ts); acks go out in arrival order. A resent event (same persistence id and
 * seq_nr) is a duplicate: acked, not stored again. A FilteredEvent is acked
 * and counted. An event that cannot be an observation is quarantined with
 * its reason and acked, since refusing it would stall the gateway's outbox
 * on it forever; nothing acked is lost.
 */
import * as grpc from "@grpc/grpc-js";
import type { ConsumeEventIn, ConsumeEventOut, ConsumerEventInit } from "../../../hosts/grpc/messages.js";
import type { Logger } from "../../../hosts/log/logger.js";
import type { CloudObservation, CloudStore, ConsumedObservation } from "../cloud-store.js";
import { consumeEvent, type ConsumedEvent } from "./consumed-event.js";
import { TEMPERATURE_STREAM } from "./event-journal.js";
import type { CloudGrpcStats } from "./grpc-stats.js";
import { refuse } from "./grpc-status.js";
import type { QuarantinedEvent } from "./quarantine-table.js";

export const DEFAULT_ACCEPTED_STREAMS: readonly string[] = Object.freeze([TEMPERATURE_STREAM]);

/**
 * Most events committed in one transaction: the Akka sample keeps 10 in
 * flight, so a group is rarely larger; the cap bounds one group's memory
 * and transaction when a client sends without waiting for acks.
 */
export const MAX_CONSUME_GROUP = 500;

type Call = grpc.ServerDuplexStream<ConsumeEventIn, ConsumeEventOut>;
type Received = { ack: { persistence_id: string; seq_nr: string } } & ({ filtered: true } | { filtered: false; consumed: ConsumedEvent });

export interface ConsumerService {
  implementation: grpc.UntypedServiceImplementation;
}

export function consumerService(
  store: CloudStore,
  acceptedStreams: readonly string[],
  stats: CloudGrpcStats,
  log: Logger,
  onStored: (stored: CloudObservation[]) => void,
): ConsumerService {
  function consume(call: Call): void {
    let init: ConsumerEventInit | undefined;
    let pending: Received[] = [];
    let scheduled = false;
    let open = true;
    /** The acks of the groups committed so far, written once their sync is done, in order. */
    let acksWritten: Promise<void> = Promise.resolve();
    /** A wait for room in the ack stream is under way (the call paused until it drains). */
    let waitingForRoom = false;

    const fail = (code: grpc.status, details: string) => {
      if (!open) return;
      stats.callsRefused++;
      refuse(call, code, details, log, "ConsumeEvent");
      finish();
    };
    const finish = () => {
      if (!open) return;
      open = false;
      if (init !== undefined) stats.consumerStreamsOpen--;
    };

    function flush(): void {
      scheduled = false;
      if (pending.length === 0) return;
      const group = pending;
      pending = [];
      const observations: ConsumedObservation[] = [];
      const quarantined: QuarantinedEvent[] = [];
      for (const item of group) {
        if (item.filtered) continue;
        if (item.consumed.kind === "observation") observations.push(item.consumed.observation);
        else quarantined.push(item.consumed.quarantined);
      }
      let result: ReturnType<CloudStore["storeConsumed"]>;
      try {
        result = store.storeConsumed(observations, quarantined, Date.now());
      } catch (error) {
        // Nothing of the group is acked: the gateway sends it again on its next stream.
        log.error("ConsumeEvent: storing failed; the events stay unacknowledged", { error, events: group.length });
        return fail(grpc.status.INTERNAL, `storing failed: ${(error as Error).message}`);
      }
      stats.eventsConsumed += result.stored.length;
      stats.duplicates += observations.length - result.stored.length;
      stats.filtered += group.filter((item) => item.filtered).length;
      for (const q of quarantined) {
        stats.quarantined[q.reason]++;
        log.warn(`ConsumeEvent: quarantined ${q.persistenceId} seq_nr ${q.seqNr} (${q.reason}): ${q.detail}`, { origin: q.originId, stream: q.streamId });
      }
      // Each group's acks after the previous group's, so they keep arrival order.
      const synced = store.sync();
      // Handled below, perhaps only after an earlier group's: not an unhandled rejection meanwhile.
      synced.catch(() => {});
      acksWritten = acksWritten.then(() => synced).then(
        () => {
          onStored(result.stored);
          if (!open) return;
          let roomLeft = true;
          for (const item of group) roomLeft = call.write({ message: "ack", ack: item.ack }) && roomLeft;
          if (!roomLeft && !waitingForRoom) {
            // The gateway is not reading its acks: stop reading its events until it does. Groups read before the
            // pause still write theirs: one wait for room serves them all (one listener each piled up, unbounded).
            waitingForRoom = true;
            call.pause();
            call.once("drain", () => {
              waitingForRoom = false;
              call.resume();
            });
          }
        },
        (error: Error) => {
          // Committed but perhaps not on disk: unacked, so the gateway sends it again (a duplicate then, acked).
          log.error("ConsumeEvent: syncing to disk failed; the events stay unacknowledged", { error, events: group.length });
          fail(grpc.status.INTERNAL, `syncing to disk failed: ${error.message}`);
        },
      );
    }

    call.on("data", (message: ConsumeEventIn) => {
      if (!open) return;
      if (init === undefined) {
        if (message.message !== "init") return fail(grpc.status.INVALID_ARGUMENT, `the first message must be a ConsumerEventInit, got ${message.message}`);
        if (!acceptedStreams.includes(message.init.stream_id)) {
          return fail(grpc.status.PERMISSION_DENIED, `stream id "${message.init.stream_id}" is not accepted (accepted: ${acceptedStreams.join(", ")})`);
        }
        init = message.init;
        stats.consumerStreamsOpen++;
        log.info(`ConsumeEvent from ${init.origin_id} on ${init.stream_id}`, { peer: call.getPeer() });
        call.write({ message: "start", start: { filter: [], replica_info: null } });
        return;
      }
      switch (message.message) {
        case "init":
          flush();
          return fail(grpc.status.INVALID_ARGUMENT, "ConsumerEventInit sent twice on one stream");
        case "keep_alive":
          return;
        case "filtered_event": {
          const { persistence_id, seq_nr } = message.filtered_event;
          pending.push({ ack: { persistence_id, seq_nr }, filtered: true });
          break;
        }
        case "event": {
          const { persistence_id, seq_nr } = message.event;
          pending.push({ ack: { persistence_id, seq_nr }, filtered: false, consumed: consumeEvent(message.event, init.origin_id, init.stream_id) });
          break;
        }
      }
      if (pending.length >= MAX_CONSUME_GROUP) flush();
      else if (!scheduled) {
        scheduled = true;
        // Events that arrived in the same turn of the event loop share one commit.
        setImmediate(flush);
      }
    });
    call.on("end", () => {
      flush();
      // The last groups' acks go out before the stream ends.
      void acksWritten.then(() => {
        if (open) call.end();
        finish();
      });
    });
    // Events already received are valid to store; the gateway resends them anyway, unacked.
    call.on("cancelled", () => {
      finish();
      flush();
    });
    call.on("error", finish);
  }

  return { implementation: { ConsumeEvent: consume } };
}
