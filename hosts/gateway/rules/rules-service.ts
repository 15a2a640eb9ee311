/*
 * The rules as the gateway starts them: the engine and the dispatch of its
 * alerts to the configured sinks (the SSE stream needs no sink: the API
 * reads the outbox). gateway.ts calls this; the engine itself knows no sink.
 */
import type { Logger } from "../../log/logger.js";
import type { ObservationStore } from "../store/observation-store.js";
import type { SensorRegistry } from "../ingest/sensor-registry.js";
import { AlertDispatch } from "./alerts/alert-dispatch.js";
import type { AlertSink } from "./alerts/alert-message.js";
import { createMqttSink, type MqttSinkOptions } from "./alerts/mqtt-sink.js";
import { createWebhookSink, type WebhookSinkOptions } from "./alerts/webhook-sink.js";
import { RuleEngine, type RulesOptions } from "./rule-engine.js";

export interface RulesSettings extends RulesOptions {
  alerts?: { webhook?: WebhookSinkOptions; mqtt?: MqttSinkOptions };
}

export interface StartedRules {
  engine: RuleEngine;
  alerts: AlertDispatch;
  /** Loads the stored rules and sends the alerts still owed (once the rest of the gateway is up). */
  start(): void;
  close(): Promise<void>;
}

export function startRules(options: {
  options: RulesSettings;
  store: ObservationStore;
  registry?: SensorRegistry;
  logger: Logger;
  now: () => number;
  onCommitted: (summary: { derived: number; keptLocal: number; alerts: number }) => void;
}): StartedRules {
  const sinks: AlertSink[] = [];
  const { webhook, mqtt } = options.options.alerts ?? {};
  if (webhook) sinks.push(createWebhookSink(webhook));
  if (mqtt) sinks.push(createMqttSink(mqtt));
  const alerts = new AlertDispatch(options.store, sinks, options.logger.child("alerts"));
  const engine = new RuleEngine({
    ...options.options,
    store: options.store,
    registry: options.registry,
    logger: options.logger,
    now: options.now,
    onCommitted: (summary) => {
      if (summary.alerts > 0) alerts.wake();
      options.onCommitted(summary);
    },
  });
  return {
    engine,
    alerts,
    start() {
      engine.open();
      alerts.start();
    },
    async close() {
      await engine.close();
      await alerts.close();
    },
  };
}
