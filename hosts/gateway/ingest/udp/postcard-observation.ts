/*
 * A Postcard TemperatureUpdated as one of our observations, so the store's
 * (sensor id, seq) key, the relay and the cloud treat it like any other.
 *
 * The message has no sequence number, boot or uptime, so the gateway
 * supplies them:
 *  - seq: the next after the sensor's highest stored seq. It needs no
 *    persistence of its own: the stored rows are the record, so after a
 *    restart numbering continues where the store ends. UDP has no retries,
 *    so two equal datagrams are two observations, each with its own seq.
 *  - boot POSTCARD_BOOT and uptime 0: there is no device clock to map.
 *  - time: the gateway's receive time, timeSource "gateway", attached
 *    directly rather than through a clock anchor (there is no boot to anchor).
 */
import type { TimedObservation } from "../../../../modules/observation/record.js";

/**
 * Our devices count boots from 1 (modules/device/sequence-lease.ts), so boot 0
 * never meets a device's clock anchor, which would re-time these rows.
 */
export const POSTCARD_BOOT = 0;

export function postcardObservation(sensorId: string, seq: number, temperature: number, receivedAt: number): TimedObservation {
  return {
    sensorId,
    seq,
    boot: POSTCARD_BOOT,
    uptimeMs: 0,
    readings: [{ quantity: "temperature", value: temperature }],
    time: receivedAt,
    timeSource: "gateway",
  };
}

/**
 * Hands out seq numbers per sensor. Reads the store once per sensor, then
 * counts in memory: the gateway is the only writer of a Postcard sensor's
 * rows. `forget` drops what it knows, for when a store write says a seq was
 * taken after all (a CBOR record from the same sensor id); the next `next`
 * reads the store again. One entry per registered sensor that sent Postcard:
 * unregistered ones are refused before they get here.
 */
export class GatewaySequence {
  readonly #highestStored: (sensorId: string) => number;
  readonly #last = new Map<string, number>();

  /** `highestStored` gives the sensor's highest stored seq, 0 when it has none. */
  constructor(highestStored: (sensorId: string) => number) {
    this.#highestStored = highestStored;
  }

  /** Reserves the sensor's next seq; one that ends up unstored is a gap, which seq allows. */
  next(sensorId: string): number {
    const seq = (this.#last.get(sensorId) ?? this.#highestStored(sensorId)) + 1;
    this.#last.set(sensorId, seq);
    return seq;
  }

  forget(sensorId: string): void {
    this.#last.delete(sensorId);
  }
}
