/*
 * Gateways for the outbox tests: registered sensors (username = sensor id,
 * password = its secret), devices that connect as them, and a cloud
 * connector that can be switched between down and up.
 */
import type { CloudAck, CloudConnector, RelayedObservation } from "../../hosts/gateway/relay/connector.js";
import { startGateway, type Gateway, type GatewayOptions } from "../../hosts/gateway/gateway.js";
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { TestMqttClient } from "./gateway-mqtt-client.js";
import { tempDir, within } from "./test-helpers.js";

export const secretOf = (sensorId: string): string => `secret-of-${sensorId}`;

export function registryOf(sensorIds: readonly string[]): StaticRegistry {
  return new StaticRegistry(sensorIds.map((sensorId) => ({ sensorId, secret: secretOf(sensorId) })));
}

/** Connects as `sensorId` (also the client id unless given). */
export function device(port: number, sensorId: string, clientId = sensorId): Promise<TestMqttClient> {
  return TestMqttClient.connect(port, clientId, { username: sensorId, password: secretOf(sensorId) });
}

/** A cloud that is down until `up` is set; when up, it acknowledges everything and keeps what it was sent. */
export function switchableConnector(): CloudConnector & { up: boolean; batches: RelayedObservation[][] } {
  const connector = {
    name: "switchable",
    up: false,
    batches: [] as RelayedObservation[][],
    async send(batch: readonly RelayedObservation[]): Promise<CloudAck> {
      if (!connector.up) throw new Error("cloud unreachable (test)");
      connector.batches.push([...batch]);
      return { acked: batch.map(({ sensorId, seq }) => ({ sensorId, seq })) };
    },
    async close() {},
  };
  return connector;
}

export type TestGateway = Gateway & { logger: ReturnType<typeof createMemoryLogger> };

/** Runs `run` against a gateway in a temp dir that accepts `sensorIds`, then closes and removes it. */
export async function withOutboxGateway(
  sensorIds: readonly string[],
  options: Partial<GatewayOptions>,
  run: (gateway: TestGateway) => Promise<void>,
): Promise<void> {
  const dir = tempDir("outbox");
  const logger = createMemoryLogger("gateway");
  const gateway = await startGateway({
    mqttPort: 0,
    httpPort: null,
    dataDir: dir.path,
    logger,
    registry: registryOf(sensorIds),
    relayIntervalMs: 50,
    relayRetryInitialMs: 20,
    relayRetryMaxMs: 50,
    ...options,
  });
  try {
    await run(Object.assign(gateway, { logger }));
  } finally {
    await within("gateway close", gateway.close());
    dir.remove();
  }
}
