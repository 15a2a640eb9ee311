/*
 * Alerts to an MQTT broker: each one a QoS 1 PUBLISH of its JSON to
 * `<topic>/<rule>` (the topic `xsedge/v1/alerts` by default), delivered
 * once the broker's PUBACK arrives. MQTT.js keeps the connection and
 * reconnects; a publish not acknowledged within MQTT_SINK_TIMEOUT_MS is
 * retried from the outbox (the broker may then see it twice: the
 * idempotency key in the payload tells a consumer).
 */
import mqtt, { type MqttClient } from "mqtt";
import type { AlertMessage, AlertSink } from "./alert-message.js";

export const DEFAULT_ALERT_TOPIC = "xsedge/v1/alerts";
export const MQTT_SINK_TIMEOUT_MS = 10_000;
/** Between reconnect attempts: MQTT.js's own backoff is constant. */
const RECONNECT_MS = 2000;

export interface MqttSinkOptions {
  url: string;
  username?: string;
  /** Never logged. */
  password?: string;
  clientId?: string;
  /** Alerts go to `<topic>/<rule>`. */
  topic?: string;
}

export function createMqttSink(options: MqttSinkOptions): AlertSink {
  const url = new URL(options.url);
  if (url.protocol !== "mqtt:" && url.protocol !== "mqtts:") throw new RangeError(`alert MQTT URL must be mqtt:// or mqtts://, got ${url.protocol}`);
  const topic = (options.topic ?? DEFAULT_ALERT_TOPIC).replace(/\/+$/, "");
  if (/[#+]/.test(topic) || topic.length === 0) throw new RangeError(`alert MQTT topic must be a topic name without wildcards, got "${topic}"`);
  let client: MqttClient | undefined;
  const connected = (): MqttClient =>
    (client ??= mqtt.connect(options.url, {
      username: options.username,
      password: options.password,
      clientId: options.clientId ?? `xsedge-alerts-${process.pid}`,
      reconnectPeriod: RECONNECT_MS,
      connectTimeout: MQTT_SINK_TIMEOUT_MS,
      // 3.1.1: every broker speaks it (aedes does not speak 5); a broker's ACL may then drop a publish it acknowledged.
      protocolVersion: 4,
    }).on("error", () => {}));
  return {
    name: "mqtt",
    target: `${url.protocol}//${url.host}/${topic}`,
    async deliver(alert: AlertMessage): Promise<void> {
      const c = connected();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no PUBACK from ${url.host} within ${MQTT_SINK_TIMEOUT_MS} ms${c.connected ? "" : " (not connected)"}`)), MQTT_SINK_TIMEOUT_MS);
      });
      try {
        await Promise.race([c.publishAsync(`${topic}/${alert.rule}`, JSON.stringify(alert), { qos: 1 }), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await client?.endAsync(true).catch(() => {});
    },
  };
}
