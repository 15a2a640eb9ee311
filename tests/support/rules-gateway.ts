/*
 * A gateway with rules for the rule tests: its local API on an ephemeral
 * port (rules are deployed through it, as `xsedge rules deploy` does),
 * devices that publish any readings over real MQTT, a cloud connector that
 * keeps what it was sent, and waits on the rules' figures from the API.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startGateway, type Gateway, type GatewayOptions } from "../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";
import type { RuleStats } from "../../hosts/gateway/rules/rule-engine.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { encodeObservation, type Reading } from "../../modules/observation/record.js";
import { memoryConnector } from "./gateway-fakes.js";
import { TestMqttClient } from "./gateway-mqtt-client.js";
import { tempDir, within } from "./test-helpers.js";

export const secretOf = (sensorId: string) => `secret-of-${sensorId}`;
/** Rule tests wait longer than most: a deploy runs tsc and starts engines on a shared, loaded machine. */
export const RULE_WAIT_MS = 30_000;

/** The source of examples/rules/<name>.ts. */
export function exampleSource(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../../../examples/rules/${name}.ts`, import.meta.url)), "utf8");
}

export interface ApiAnswer<T = any> {
  status: number;
  body: T;
}

export interface RulesGateway {
  gateway: Gateway;
  base: string;
  dataDir: string;
  logger: ReturnType<typeof createMemoryLogger>;
  cloud: ReturnType<typeof memoryConnector>;
  /** POST /api/v1/rules. */
  deploy(source: string, file?: string): Promise<ApiAnswer>;
  get(path: string): Promise<ApiAnswer>;
  post(path: string, body: unknown): Promise<ApiAnswer>;
  rule(name: string): Promise<RuleStats>;
  /** Waits until the rule has handled every stored device observation and committed it. */
  caughtUp(name: string, timeoutMs?: number): Promise<RuleStats>;
  device(sensorId: string): Promise<TestMqttClient>;
  /** Publishes one observation and waits for its PUBACK. */
  publish(client: TestMqttClient, seq: number, readings: Reading[], uptimeMs?: number): Promise<void>;
  done(): Promise<void>;
}

export async function startRulesGateway(sensorIds: string[], options: Partial<GatewayOptions> = {}, dataDir?: string): Promise<RulesGateway> {
  const dir = dataDir === undefined ? tempDir("rules") : undefined;
  const path = dataDir ?? dir!.path;
  const logger = createMemoryLogger("gateway");
  const cloud = memoryConnector();
  const registry = new StaticRegistry(sensorIds.map((sensorId) => ({ sensorId, secret: secretOf(sensorId) })));
  const gateway = await startGateway({
    mqttPort: 0, httpPort: 0, dataDir: path, connector: cloud, registry, logger, relayIntervalMs: 50, rateLimitPerSecond: Infinity, ...options,
  });
  const base = `http://127.0.0.1:${gateway.httpPort}`;
  const clients: TestMqttClient[] = [];
  const call = async (method: string, route: string, body?: unknown): Promise<ApiAnswer> => {
    const res = await fetch(base + route, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : null };
  };
  const rule = async (name: string): Promise<RuleStats> => {
    const answer = await call("GET", `/api/v1/rules/detail?name=${name}`);
    if (answer.status !== 200) throw new Error(`GET rule ${name}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.rule as RuleStats;
  };
  return {
    gateway,
    base,
    dataDir: path,
    logger,
    cloud,
    deploy: (source, file) => call("POST", "/api/v1/rules", file === undefined ? { source } : { source, file }),
    get: (route) => call("GET", route),
    post: (route, body) => call("POST", route, body),
    rule,
    async caughtUp(name, timeoutMs = RULE_WAIT_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const stats = await rule(name);
        if (stats.lagObservations === 0 && !stats.uncommitted && stats.status === "running") return stats;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for rule ${name} to catch up: ${JSON.stringify(stats)}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async device(sensorId) {
      const client = await TestMqttClient.connect(gateway.mqttPort!, sensorId, { username: sensorId, password: secretOf(sensorId) });
      clients.push(client);
      return client;
    },
    async publish(client, seq, readings, uptimeMs = seq * 1000) {
      const payload = encodeObservation({ sensorId: client.clientId, seq, boot: 1, uptimeMs, readings });
      await client.puback(client.publish(uplinkTopic(client.clientId), payload));
    },
    async done() {
      for (const client of clients) await client.end().catch(() => {});
      await within("gateway close", gateway.close(), RULE_WAIT_MS);
      dir?.remove();
    },
  };
}
