/*
 * The cloud side of an upstream broker in tests: an MQTT.js subscriber with
 * a persistent session (so it misses nothing across a broker restart) that
 * counts each observation the gateway relayed, and the duplicates.
 */
import mqtt, { type MqttClient } from "mqtt";
import { within } from "./test-helpers.js";

export interface ReceivedObservation {
  topic: string;
  sensorId: string;
  seq: number;
  body: Record<string, unknown>;
}

export class ObservationSubscriber {
  /** First arrival of each observation, keyed "sensorId/seq". */
  readonly unique = new Map<string, ReceivedObservation>();
  /** Arrivals of an observation already seen. */
  duplicates = 0;
  readonly #client: MqttClient;

  private constructor(client: MqttClient) {
    this.#client = client;
    client.on("message", (topic, payload) => {
      const body = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
      const key = `${body.sensorId}/${body.seq}`;
      if (this.unique.has(key)) this.duplicates++;
      else this.unique.set(key, { topic, sensorId: String(body.sensorId), seq: Number(body.seq), body });
    });
  }

  /** `clientId` must differ between subscribers alive at once: each takes the other's session over. */
  static async connect(url: string, clientId: string, username: string, password: string, filter: string): Promise<ObservationSubscriber> {
    const client = mqtt.connect(url, { clientId, username, password, clean: false, protocolVersion: 4, reconnectPeriod: 100 });
    client.on("error", () => {});
    await within("the subscriber's CONNACK", new Promise<void>((resolve) => client.once("connect", () => resolve())));
    await within("the subscriber's SUBACK", client.subscribeAsync(filter, { qos: 1 }));
    return new ObservationSubscriber(client);
  }

  seqs(sensorId: string): number[] {
    return [...this.unique.values()].filter((o) => o.sensorId === sensorId).map((o) => o.seq).sort((a, b) => a - b);
  }

  async close(): Promise<void> {
    await within("the subscriber to close", this.#client.endAsync(true));
  }
}
