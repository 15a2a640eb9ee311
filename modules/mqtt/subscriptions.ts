/*
 * The client's subscriptions: exact topics at QoS 1, each SUBSCRIBE encoded
 * once, sent again on every connection (a broker that lost the session lost
 * its subscriptions too), and SUBACKs matched back to their topic. Their
 * packet ids are the top MAX_SUBSCRIPTIONS ids, which publishes never take
 * [MQTT-2.3.1-2].
 */
import { MAX_PACKET_ID, encodeSubscribe } from "./codec.js";
import { MAX_OUTGOING_PACKET_BYTES, MAX_SUBSCRIPTIONS } from "./client-options.js";

/** Publishes take ids 1 to this; SUBSCRIBE n takes LAST_PUBLISH_ID + 1 + n. */
export const LAST_PUBLISH_ID = MAX_PACKET_ID - MAX_SUBSCRIPTIONS;
/** SUBACK return code for a refused subscription [MQTT-3.9.3-2]. */
const SUBACK_FAILURE = 0x80;

export class Subscriptions {
  readonly topics: readonly string[];
  readonly #packets: Uint8Array[] = [];
  /** Bit n: SUBSCRIBE n waits to be written on this connection. */
  #unsent = 0;

  constructor(topics: readonly string[]) {
    if (topics.length > MAX_SUBSCRIPTIONS) throw new RangeError(`subscriptions: at most ${MAX_SUBSCRIPTIONS}, got ${topics.length}`);
    this.topics = topics;
    topics.forEach((topic, i) => {
      const packet = new Uint8Array(MAX_OUTGOING_PACKET_BYTES);
      this.#packets.push(packet.slice(0, encodeSubscribe(packet, LAST_PUBLISH_ID + 1 + i, topic, 1)));
    });
  }

  /** A new connection: every SUBSCRIBE goes out again. */
  rewind(): void {
    this.#unsent = (1 << this.#packets.length) - 1;
  }

  /** Writes what `write` takes (false: no room, stop); returns false if it stopped. */
  flush(write: (packet: Uint8Array) => boolean): boolean {
    for (let i = 0; this.#unsent !== 0 && i < this.#packets.length; i++) {
      if ((this.#unsent & (1 << i)) === 0) continue;
      if (!write(this.#packets[i])) return false;
      this.#unsent &= ~(1 << i);
    }
    return true;
  }

  /** The topic a SUBACK answers and whether it was granted; undefined for an id this client never used. */
  suback(id: number, granted: Uint8Array): { topic: string; granted: boolean } | undefined {
    const index = id - LAST_PUBLISH_ID - 1;
    if (index < 0 || index >= this.#packets.length || granted.length !== 1) return undefined;
    return { topic: this.topics[index], granted: granted[0] !== SUBACK_FAILURE };
  }
}
