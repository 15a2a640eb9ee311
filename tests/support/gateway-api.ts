/*
 * A gateway with its HTTP API on an ephemeral port, devices that log in with
 * their registered secrets, and JSON calls to the API.
 */
import { startGateway, type Gateway, type GatewayOptions } from "../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { memoryConnector } from "./gateway-fakes.js";
import { TestMqttClient } from "./gateway-mqtt-client.js";
import { obsPayload } from "./gateway-records.js";
import { tempDir, WAIT_MS, within } from "./test-helpers.js";

export const secretOf = (sensorId: string) => `secret-of-${sensorId}`;

export interface ApiGateway {
  gateway: Gateway;
  /** http://127.0.0.1:<port> */
  base: string;
  logger: ReturnType<typeof createMemoryLogger>;
  /** A device connected with its credentials (kept and closed by `done`). */
  device(sensorId: string): Promise<TestMqttClient>;
  /** Publishes observations `seqs` (temperature 20 + seq / 10) and waits for each PUBACK. */
  publish(client: TestMqttClient, seqs: number[]): Promise<void>;
  done(): Promise<void>;
}

export async function startApiGateway(sensorIds: string[], options: Partial<GatewayOptions> = {}): Promise<ApiGateway> {
  const dir = tempDir("api");
  const logger = createMemoryLogger("gateway");
  const registry = new StaticRegistry(sensorIds.map((sensorId) => ({ sensorId, secret: secretOf(sensorId) })));
  const gateway = await startGateway({
    mqttPort: 0, httpPort: 0, dataDir: dir.path, connector: memoryConnector(), registry, logger, relayIntervalMs: 50, ...options,
  });
  const clients: TestMqttClient[] = [];
  return {
    gateway,
    base: `http://127.0.0.1:${gateway.httpPort}`,
    logger,
    async device(sensorId) {
      const client = await TestMqttClient.connect(gateway.mqttPort!, sensorId, { username: sensorId, password: secretOf(sensorId) });
      clients.push(client);
      return client;
    },
    async publish(client, seqs) {
      for (const seq of seqs) await client.puback(client.publish(uplinkTopic(client.clientId), obsPayload(client.clientId, seq, 1, 20 + seq / 10)));
    },
    async done() {
      for (const client of clients) await client.end().catch(() => {});
      await within("gateway close", gateway.close());
      dir.remove();
    },
  };
}

/** Like waitFor, for an asynchronous check (an HTTP call): polls until it returns a value, bounded by WAIT_MS. */
export async function pollFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
