/*
 * What a rule's next delivery holds, decided from the rows read after its
 * offset: the observations it selects (one at a time while it steps past a
 * fault), up to MAX_DELIVERY_EVENTS, and a tick for its timers once it is
 * caught up. Pure.
 */
import type { InputRow } from "./input-window.js";
import type { RuleSelector } from "./rule-selector.js";
import type { WireEvent } from "./xs/protocol.js";

/** Rows read per look at the store: a few hundred microseconds of SQLite on the event loop. */
export const READ_ROWS = 500;
/** Events per delivery at most: a few milliseconds of XS work, so rules sharing a worker take turns often. */
export const MAX_DELIVERY_EVENTS = 200;

export interface DeliveryPlan {
  events: WireEvent[];
  /** The last row looked at: the rule's offset once the delivery is done. */
  through: number;
  /** Every stored row was looked at: timers may run on the gateway's clock now. */
  caughtUp: boolean;
}

export function planDelivery(
  rows: readonly InputRow[],
  position: number,
  selector: RuleSelector,
  options: { cautious: boolean; nextTimerAt: number | null; now: number; readRows?: number },
): DeliveryPlan {
  const maxEvents = options.cautious ? 1 : MAX_DELIVERY_EVENTS;
  const events: WireEvent[] = [];
  let through = position;
  let scanned = 0;
  for (const row of rows) {
    if (events.length >= maxEvents) break;
    scanned++;
    through = row.observation.id;
    if (selector.matchesRow(row.observation.sensorId, row.readings)) events.push({ kind: "observation", o: row.observation });
  }
  const caughtUp = scanned === rows.length && rows.length < (options.readRows ?? READ_ROWS);
  // While catching up the observations' own times move the rule's clock; a tick only once there are none left.
  if (caughtUp && !options.cautious && options.nextTimerAt !== null && options.nextTimerAt <= options.now) events.push({ kind: "tick", now: options.now });
  return { events, through, caughtUp };
}

/** One observation named, when the delivery held exactly one: a fault's context. */
export function onlyObservation(events: readonly WireEvent[]): { observation?: { id: number; sensorId: string; seq: number } } {
  const observations = events.flatMap((e) => (e.kind === "observation" ? [e.o] : []));
  if (observations.length !== 1) return {};
  const o = observations[0];
  return { observation: { id: o.id, sensorId: o.sensorId, seq: o.seq } };
}
