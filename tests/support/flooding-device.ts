/*
 * A device for crash tests: keeps `window` QoS 1 publishes in flight,
 * remembers what was acknowledged, and after a reconnect resends what was
 * not, first, as a real device's flash log would.
 */
import { uplinkTopic } from "../../hosts/gateway/ingest/ingest.js";
import type { TestMqttClient } from "./gateway-mqtt-client.js";
import { obsPayload } from "./gateway-records.js";
import { device } from "./outbox-gateway.js";

/** Varies with seq (so content is checked), in steps the record encodes exactly. */
export const temperatureOf = (seq: number): number => (seq % 400) / 4;

export class FloodingDevice {
  readonly acked = new Set<number>();
  readonly unacked = new Set<number>();
  #next = 1;
  #client: TestMqttClient | undefined;
  #seqOfId = new Map<number, number>();
  #stopped = false;

  /** Logs in with outbox-gateway's secretOf(sensorId). */
  constructor(readonly sensorId: string, readonly window: number) {}

  async connect(port: number): Promise<void> {
    const client = await device(port, this.sensorId);
    this.#client = client;
    this.#seqOfId = new Map();
    client.onPacket = (packet) => {
      if (packet.cmd !== "puback") return;
      const seq = this.#seqOfId.get(packet.messageId!);
      if (seq === undefined) return;
      this.acked.add(seq);
      this.unacked.delete(seq);
      if (!this.#stopped) this.#send(this.#next++);
    };
    const resend = [...this.unacked].sort((a, b) => a - b);
    for (const seq of resend) this.#send(seq);
    while (!this.#stopped && this.unacked.size < this.window) this.#send(this.#next++);
  }

  /** No new observations from now on; unacknowledged ones are still resent on the next connect. */
  stop(): void {
    this.#stopped = true;
  }

  get published(): number {
    return this.#next - 1;
  }

  #send(seq: number): void {
    const client = this.#client!;
    if (!client.connected) return;
    this.unacked.add(seq);
    this.#seqOfId.set(client.publish(uplinkTopic(this.sensorId), obsPayload(this.sensorId, seq, 1, temperatureOf(seq))), seq);
  }

  closed(): Promise<void> {
    return this.#client?.closed ?? Promise.resolve();
  }

  async end(): Promise<void> {
    if (this.#client?.connected) await this.#client.end();
  }
}
