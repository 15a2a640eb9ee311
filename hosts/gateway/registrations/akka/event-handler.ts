/*
 * What the registration consumer does with one stream message: read it
 * (envelope.ts), decide by its seq_nr (sequence.ts), fetch a backtracking
 * one in full, and apply it to the projection together with its position in
 * one transaction; counted and logged by pid and seq_nr, never by secret.
 * The stream, its timers and the LoadEvent call belong to consumer.ts.
 */
import type { StreamOut } from "../../../grpc/messages.js";
import type { Logger } from "../../../log/logger.js";
import type { RegistrationProjection } from "../projection.js";
import { describePosition, quoteId, quotePersistenceId, readEnvelope, readRegistration, shownId, shownPersistenceId, type Envelope } from "./envelope.js";
import type { LoadResult } from "./load.js";
import type { RegistrationStreamState } from "./sequence.js";

/** The counters the handler moves; the consumer's stats show them. */
export interface EventCounters {
  events: number;
  badEvents: number;
  duplicates: number;
  gaps: number;
  filtered: number;
  loaded: number;
  loadFailures: number;
}

export interface EventHandlerOptions {
  streamId: string;
  state: RegistrationStreamState;
  projection: RegistrationProjection;
  log: Logger;
  counters: EventCounters;
  /** LoadEvent for a backtracking event. */
  load(envelope: Envelope): Promise<LoadResult>;
}

export class RegistrationEventHandler {
  readonly #o: EventHandlerOptions;

  constructor(options: EventHandlerOptions) {
    this.#o = options;
  }

  /**
   * Throws when the event could not be recorded (a store that cannot commit, a
   * LoadEvent that may pass later, the stream ended meanwhile): nothing was
   * stored for it, so the next stream, from the stored offset, brings it again.
   */
  async handle(out: StreamOut, stillOpen: () => boolean): Promise<void> {
    const { counters, log } = this.#o;
    const reading = readEnvelope(out);
    if (!reading.ok) {
      counters.badEvents++;
      log.warn(`ignored registration stream message: ${reading.reason}`, { reason: reading.reason });
      return;
    }
    let envelope = reading.envelope;
    const { persistenceId, seqNr } = envelope;
    const decision = this.#o.state.decide(persistenceId, seqNr, envelope.source);
    if (decision.action === "duplicate") {
      counters.duplicates++;
      log.debug(`registration event ${describePosition(persistenceId, seqNr)} already handled (last seq_nr ${decision.last})`);
      return;
    }
    if (decision.action === "load") {
      const loaded = await this.#o.load(envelope);
      if (!stillOpen()) throw new Error("stream ended during LoadEvent");
      if (loaded.outcome !== "loaded") counters.loadFailures++;
      if (loaded.outcome === "skip") return this.#skip(envelope, loaded.reason);
      if (loaded.outcome === "retry") {
        log.warn(`${loaded.reason}; restarting the stream`, { persistenceId: shownPersistenceId(persistenceId), seqNr, error: loaded.reason });
        throw new Error(loaded.reason);
      }
      counters.loaded++;
      envelope = loaded.envelope;
    }
    if (decision.missed > 0) {
      counters.gaps++;
      log.warn(`registration events of ${quotePersistenceId(persistenceId)}: expected seq_nr ${seqNr - decision.missed}, got ${seqNr}; accepted (a later registration replaces the missed ones)`, {
        persistenceId: shownPersistenceId(persistenceId), seqNr, missed: decision.missed,
      });
    }
    this.#record(envelope);
  }

  #record(envelope: Envelope): void {
    const { counters, log } = this.#o;
    if (envelope.kind === "filtered") {
      this.#commit(envelope, null);
      counters.filtered++;
      log.debug(`filtered registration event ${describePosition(envelope.persistenceId, envelope.seqNr)}`);
      return;
    }
    const reading = readRegistration(envelope);
    if (!reading.ok) return this.#skip(envelope, reading.reason);
    const outcome = this.#commit(envelope, reading.registration);
    counters.events++;
    // The fields are named one by one: the registration holds the secret.
    const { sensorId } = reading.registration;
    log.info(`sensor ${quoteId(sensorId)} ${outcome === "registered" ? "registered" : "re-registered (new secret)"}`, {
      sensorId: shownId(sensorId), persistenceId: shownPersistenceId(envelope.persistenceId), seqNr: envelope.seqNr,
    });
  }

  /** A bad event at a known position: recorded as handled, so it is not delivered again and cannot wedge the stream. */
  #skip(envelope: Envelope, reason: string): void {
    this.#commit(envelope, null);
    this.#o.counters.badEvents++;
    this.#o.log.warn(`skipped registration event ${reason}`, { persistenceId: shownPersistenceId(envelope.persistenceId), seqNr: envelope.seqNr, reason });
  }

  #commit(envelope: Envelope, registration: Parameters<RegistrationProjection["applyStreamEvent"]>[2]) {
    const { state, projection, streamId } = this.#o;
    const step = state.step(envelope.persistenceId, envelope.seqNr, envelope.offsets);
    const outcome = projection.applyStreamEvent(streamId, step, registration);
    state.commit(step);
    return outcome;
  }
}
