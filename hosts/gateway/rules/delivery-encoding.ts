/*
 * The JSON of a delivery request (xs/protocol.ts, op "deliver"), each
 * observation's part encoded once for every rule it goes to. Rules that
 * keep up are delivered the same rows (input-window.ts shares the objects),
 * and JSON.stringify of every delivery whole encoded each observation once
 * per rule, on the event loop that sends PUBACKs: with the bench's ten rules
 * at 1,000 observations a second, about 30 ms of every second against about
 * 1 ms encoded once and joined (measured on a shared machine).
 */
import type { WireEvent, WireObservation } from "./xs/protocol.js";

/** What each observation was encoded as; held as long as the observation is (the window's rows, a delivery's events). */
const encoded = new WeakMap<WireObservation, string>();

/** The JSON of one delivered observation: the same text for every delivery it is in (it is never changed once read). */
export function observationJson(observation: WireObservation): string {
  let json = encoded.get(observation);
  if (json === undefined) {
    json = JSON.stringify(observation);
    encoded.set(observation, json);
  }
  return json;
}

/** The same text as JSON.stringify({ op: "deliver", slot, events }), parsed, with each observation's part from observationJson. */
export function deliverRequestJson(slot: string, events: readonly WireEvent[]): string {
  let json = `{"op":"deliver","slot":${JSON.stringify(slot)},"events":[`;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (i > 0) json += ",";
    json += event.kind === "observation" ? `{"kind":"observation","o":${observationJson(event.o)}}` : JSON.stringify(event);
  }
  return `${json}]}`;
}
