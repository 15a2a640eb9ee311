/*
 * A well-behaved device for the attack tests: logged in with its own
 * secret, it publishes one observation every `periodMs` and notes how long
 * each PUBACK took, so a test can assert that it kept being served while
 * an attack ran (a generous bound: these machines are shared).
 */
import { uplinkTopic } from "../../hosts/gateway/ingest/ingest.js";
import { obsPayload } from "./gateway-records.js";
import { TestMqttClient, type ConnectOptions, type Credentials } from "./gateway-mqtt-client.js";
import { within } from "./test-helpers.js";

export interface HonestReport {
  acked: number;
  /** The slowest PUBACK, ms. */
  slowestMs: number;
  /** Publishes still unacknowledged at the end. */
  unacked: number;
  connected: boolean;
}

export class HonestDevice {
  readonly #client: TestMqttClient;
  readonly #sensorId: string;
  readonly #sentAt = new Map<number, number>();
  #seq = 0;
  #acked = 0;
  #slowest = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(client: TestMqttClient, sensorId: string) {
    this.#client = client;
    this.#sensorId = sensorId;
    client.onPacket = (packet) => {
      if (packet.cmd !== "puback") return;
      const at = this.#sentAt.get(packet.messageId!);
      if (at === undefined) return;
      this.#sentAt.delete(packet.messageId!);
      this.#acked++;
      this.#slowest = Math.max(this.#slowest, performance.now() - at);
    };
  }

  static async start(port: number, credentials: Credentials, periodMs = 50, options: ConnectOptions = {}): Promise<HonestDevice> {
    const client = await TestMqttClient.connect(port, credentials.username, credentials, options);
    const device = new HonestDevice(client, credentials.username);
    device.#timer = setInterval(() => device.#publish(), periodMs);
    // A failing test must not be kept alive by it.
    device.#timer.unref();
    device.#publish();
    return device;
  }

  get acked(): number {
    return this.#acked;
  }

  /** Waits (bounded) for `count` PUBACKs in all, stops publishing, waits for the last PUBACKs, disconnects, and says how it went. */
  async stop(count = 3): Promise<HonestReport> {
    const enough = Date.now() + 4000;
    while (this.#acked < count && this.#client.connected && Date.now() < enough) await new Promise((r) => setTimeout(r, 10));
    clearInterval(this.#timer);
    const deadline = Date.now() + 2000;
    while (this.#sentAt.size > 0 && this.#client.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const report = { acked: this.#acked, slowestMs: this.#slowest, unacked: this.#sentAt.size, connected: this.#client.connected };
    if (this.#client.connected) await within("the honest device to disconnect", this.#client.end());
    return report;
  }

  #publish(): void {
    if (!this.#client.connected) return;
    const id = this.#client.publish(uplinkTopic(this.#sensorId), obsPayload(this.#sensorId, ++this.#seq));
    this.#sentAt.set(id, performance.now());
  }
}
