/*
 * What the engine cannot check of a delivery's outputs, checked before it
 * is queued for commit: that each derived observation's sensor is this
 * rule's to write (derived-sensors.ts), and that its values fit a record.
 */
import { standardQuantity } from "../../../modules/observation/quantities.js";
import type { DerivedSensors } from "./derived-sensors.js";
import { roundReading } from "./rule-commits.js";
import type { EventResult } from "./xs/protocol.js";

/** Why the outputs of `rule` cannot be stored, or undefined when they can. */
export function refuseOutputs(results: readonly EventResult[], rule: string, derived: DerivedSensors): string | undefined {
  for (const result of results) {
    for (const output of result.derived) {
      const refusal = derived.refusal(rule, output.sensorId);
      if (refusal) return refusal;
      for (const reading of output.readings) {
        // Own names only: "toString" is in any object.
        const info = standardQuantity(reading.quantity);
        if (!info) return `derived quantity "${reading.quantity}" is not one the gateway stores`;
        const { value } = roundReading(reading);
        const { exponent } = info;
        if (!Number.isSafeInteger(Math.round(exponent < 0 ? value * 10 ** -exponent : value / 10 ** exponent))) {
          return `derived ${reading.quantity} ${reading.value} is out of range`;
        }
      }
      if (!Number.isFinite(output.time) || output.time < 0) return `derived time ${output.time} is not a wall time`;
    }
  }
  return undefined;
}
