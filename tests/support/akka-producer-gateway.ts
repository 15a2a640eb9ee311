/*
 * A gateway relaying through the Akka gRPC producer connector, for the
 * producer tests: StaticRegistry sensors, no HTTP API, quick relay retries,
 * devices publishing over MQTT, or a store filled before the gateway starts
 * (so the relay's first batch is exactly those rows).
 */
import { rmSync } from "node:fs";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startGateway, type Gateway, type GatewayOptions } from "../../hosts/gateway/gateway.js";
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";
import { ObservationStore } from "../../hosts/gateway/store/observation-store.js";
import { uplinkTopic } from "../../hosts/gateway/ingest/ingest.js";
import { createAkkaGrpcConnector, type AkkaGrpcConnector, type AkkaGrpcConnectorOptions } from "../../hosts/gateway/relay/connectors/akka-grpc.js";
import { TestMqttClient } from "./gateway-mqtt-client.js";
import { observation, tempDir } from "./test-helpers.js";

export const SENSORS = ["s-1", "s-2"];
export const secretOf = (sensorId: string) => `secret-of-${sensorId}`;

export interface ProducerGateway {
  gateway: Gateway;
  connector: AkkaGrpcConnector;
  logger: ReturnType<typeof createMemoryLogger>;
  dataDir: string;
  /** Publishes each payload as `sensorId` over MQTT and waits for its PUBACK (stored). */
  publish(sensorId: string, payloads: readonly Uint8Array[]): Promise<void>;
  /** Closes the gateway and the connector, keeping the data directory. */
  stop(): Promise<void>;
  /** stop() and remove the data directory. */
  done(): Promise<void>;
}

/** Stores observations 1..count of `sensorId` (21.5 °C, received at 1000 + seq) in a fresh data directory. */
export function prefilledDataDir(sensorId: string, count: number): string {
  const dir = tempDir("akka-producer").path;
  const store = ObservationStore.open(dir);
  for (let seq = 1; seq <= count; seq++) store.append(observation(sensorId, seq), 1000 + seq);
  store.close();
  return dir;
}

export async function startProducerGateway(
  connectorOptions: AkkaGrpcConnectorOptions,
  dataDir = tempDir("akka-producer").path,
  gatewayOptions: Partial<GatewayOptions> = {},
): Promise<ProducerGateway> {
  const logger = createMemoryLogger("akka-producer");
  const connector = createAkkaGrpcConnector({ logger: logger.child("akka-grpc"), ...connectorOptions });
  const registry = new StaticRegistry(SENSORS.map((sensorId) => ({ sensorId, secret: secretOf(sensorId) })));
  const gateway = await startGateway({
    dataDir,
    connector,
    registry,
    logger,
    httpPort: null,
    mqttPort: 0,
    relayIntervalMs: 50,
    relayRetryInitialMs: 20,
    relayRetryMaxMs: 100,
    ...gatewayOptions,
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await gateway.close();
    await connector.close();
  };
  return {
    gateway,
    connector,
    logger,
    dataDir,
    async publish(sensorId, payloads) {
      const device = await TestMqttClient.connect(gateway.mqttPort!, sensorId, { username: sensorId, password: secretOf(sensorId) });
      for (const payload of payloads) await device.puback(device.publish(uplinkTopic(sensorId), payload));
      await device.end();
    },
    stop,
    async done() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The lines logged at `level` or above, as text. */
export function logged(logger: ReturnType<typeof createMemoryLogger>, level: "warn" | "info" = "warn"): string[] {
  const levels = level === "warn" ? ["warn", "error"] : ["info", "warn", "error"];
  return logger.lines.filter((line) => levels.includes(line.level as string)).map((line) => String(line.msg));
}
