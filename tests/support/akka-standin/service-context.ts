/*
 * What the stand-in's services share: the store, the switches, the logger,
 * live appends, and the list of open streams to end on close.
 */
import type { Logger } from "../../../hosts/log/logger.js";
import type { JournalEvent, StandinStore } from "./standin-store.js";
import { StatusError } from "./status-error.js";
import type { StandinSwitches } from "./switches.js";

export interface ServiceContext {
  store: StandinStore;
  switches: StandinSwitches;
  logger: Logger;
  /** Calls `listener` with every event appended from now on; returns the unsubscribe. */
  onAppend(listener: (event: JournalEvent) => void): () => void;
  /** Keeps `end` to end the stream when the stand-in closes; returns the forget. */
  track(end: (error: StatusError) => void): () => void;
}

/** Answers UNAVAILABLE if the switch says so; true if it did. */
export function unavailable(context: ServiceContext, fail: (error: StatusError) => void): boolean {
  if (!context.switches.takeUnavailable()) return false;
  context.store.count("unavailable_answers");
  fail(new StatusError("UNAVAILABLE", "the stand-in is answering UNAVAILABLE (fault switch unavailableCalls)"));
  return true;
}

