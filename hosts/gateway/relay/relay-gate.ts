/*
 * What may hold a row back from the relay for a moment: the gateway rules
 * that decide per observation whether it is relayed (rules/relay-verdicts.ts
 * implements it; the relay only knows this interface, so its imports still
 * point down). A row a rule kept at the gateway has already left the
 * outbox; a gate only says which of the rows read may go now.
 */
import type { StoredObservation } from "../store/observation-store.js";

export interface RelayGate {
  /**
   * Of `rows` (the oldest unrelayed, in id order), those that may be sent
   * now, in order. A row held back waits for a verdict, never longer than
   * the gate's bound; a held sensor's later rows are held too, so each
   * sensor's rows still reach the cloud in seq order.
   */
  admit(rows: readonly StoredObservation[], now: number): StoredObservation[];
}
