/*
 * The QoS 1 in-flight window: PUBLISH packets sent (or about to be) and not
 * yet acknowledged, in publish order.
 *
 * Each message is encoded once into its own slot of one buffer allocated at
 * start-up, and the slot is what goes on the wire, then again after a
 * reconnect with only the DUP bit changed. Copying the payload in means the
 * caller may reuse its buffer as soon as publish() returns, and a re-send
 * needs neither the topic string nor the payload again.
 *
 * Slots are reused in any order; a separate list of slot numbers keeps
 * publish order, so a PUBACK out of order frees its slot at once and re-sends
 * still go out in the order the messages were published.
 */
import { MAX_PACKET_ID, encodePublish, setPublishDup } from "./codec.js";

/** Returned by ack() for a packet id that is not in flight. */
export const NOT_IN_FLIGHT: unique symbol = Symbol("not in flight");

export class InFlightWindow {
  readonly capacity: number;
  readonly slotBytes: number;
  readonly #slots: Uint8Array[];
  readonly #lengths: Uint32Array;
  /** Packet id per slot; 0 marks a free slot or an acknowledged hole. */
  readonly #ids: Uint16Array;
  /** 1 once a slot went on the wire, so a later write counts as a re-send. */
  readonly #written: Uint8Array;
  readonly #tokens: unknown[];
  /** Occupied slot numbers, oldest first. */
  readonly #order: Uint16Array;
  #live = 0;
  /** Entries of #order already written on the current connection. */
  #sent = 0;
  #nextId = 1;
  readonly #lastId: number;

  /** `lastPacketId`: publishes use ids 1 to this; the client keeps those above for its SUBSCRIBEs. */
  constructor(capacity: number, slotBytes: number, lastPacketId = MAX_PACKET_ID) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1024) throw new RangeError(`maxInFlight: ${capacity} is not an integer from 1 to 1024`);
    if (!Number.isInteger(slotBytes) || slotBytes < 8 || slotBytes > 65_535) throw new RangeError(`maxPacketBytes: ${slotBytes} is not an integer from 8 to 65535`);
    if (!Number.isInteger(lastPacketId) || lastPacketId <= capacity || lastPacketId > MAX_PACKET_ID) throw new RangeError(`lastPacketId: ${lastPacketId} must leave room for the window`);
    this.capacity = capacity;
    this.slotBytes = slotBytes;
    this.#lastId = lastPacketId;
    const storage = new Uint8Array(capacity * slotBytes);
    this.#slots = [];
    for (let i = 0; i < capacity; i++) this.#slots.push(storage.subarray(i * slotBytes, (i + 1) * slotBytes));
    this.#lengths = new Uint32Array(capacity);
    this.#ids = new Uint16Array(capacity);
    this.#written = new Uint8Array(capacity);
    this.#tokens = new Array(capacity).fill(undefined);
    this.#order = new Uint16Array(capacity);
  }

  get full(): boolean {
    return this.#live === this.capacity;
  }

  /** Messages not yet acknowledged. */
  get size(): number {
    return this.#live;
  }

  /** Encodes a QoS 1 PUBLISH into the next slot; returns its packet id. The caller checks `full` first. */
  add(topic: string, payload: Uint8Array, token: unknown): number {
    if (this.full) throw new RangeError("in-flight window is full");
    const slot = this.#ids.indexOf(0);
    const id = this.#allocateId();
    this.#lengths[slot] = encodePublish(this.#slots[slot], topic, payload, 1, id, false);
    this.#ids[slot] = id;
    this.#written[slot] = 0;
    this.#tokens[slot] = token;
    this.#order[this.#live++] = slot;
    return id;
  }

  /** Ids run 1..lastPacketId and wrap, skipping any still in flight [MQTT-2.3.1-2]. */
  #allocateId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id >= this.#lastId ? 1 : id + 1;
      if (this.#ids.indexOf(id) < 0) return id;
    }
  }

  /** Frees the slot holding `packetId` and returns its token, or NOT_IN_FLIGHT. */
  ack(packetId: number): unknown {
    const slot = packetId === 0 ? -1 : this.#ids.indexOf(packetId);
    if (slot < 0) return NOT_IN_FLIGHT;
    const token = this.#tokens[slot];
    this.#ids[slot] = 0;
    this.#tokens[slot] = undefined;
    const at = this.#order.indexOf(slot);
    this.#order.copyWithin(at, at + 1, this.#live--);
    if (at < this.#sent) this.#sent--;
    return token;
  }

  /**
   * A new connection: everything unacknowledged goes out again from the
   * head. With the session kept, slots already written carry DUP=1
   * [MQTT-3.3.1-1] and their original ids [MQTT-4.4.0-1]; without it the
   * broker has no record of them and they go out as fresh publishes.
   */
  rewind(sessionPresent: boolean): void {
    this.#sent = 0;
    for (let i = 0; i < this.#live; i++) {
      const slot = this.#order[i];
      setPublishDup(this.#slots[slot], sessionPresent && this.#written[slot] === 1);
    }
  }

  /** Slot of the next packet to write on this connection, or -1. */
  nextToSend(): number {
    return this.#sent < this.#live ? this.#order[this.#sent] : -1;
  }

  /** The encoded packet in `slot`: a view, as write() takes whole views. */
  packet(slot: number): Uint8Array {
    return this.#slots[slot].subarray(0, this.#lengths[slot]);
  }

  packetLength(slot: number): number {
    return this.#lengths[slot];
  }

  /** Records that `slot` (from nextToSend) was written; true if it had been written before. */
  markSent(slot: number): boolean {
    const again = this.#written[slot] === 1;
    this.#written[slot] = 1;
    this.#sent++;
    return again;
  }

  /** Empties the window, returning the unacknowledged tokens in publish order. */
  drain(): unknown[] {
    const tokens: unknown[] = [];
    for (let i = 0; i < this.#live; i++) {
      const slot = this.#order[i];
      tokens.push(this.#tokens[slot]);
      this.#ids[slot] = 0;
      this.#tokens[slot] = undefined;
    }
    this.#live = this.#sent = 0;
    return tokens;
  }
}
