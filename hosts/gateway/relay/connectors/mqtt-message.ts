/*
 * What the MQTT cloud connector puts on the wire, free of I/O: the topic an
 * observation goes to, its payload, the broker URL as it may be shown, and
 * the words for a broker's refusal codes. mqtt.ts does the I/O.
 */
import { SENSOR_ID_PATTERN } from "../../../../modules/observation/record.js";
import type { RelayedObservation } from "../connector.js";

/**
 * One topic per gateway and sensor, under the project's prefix: a cloud rule
 * can take everything (`xsedge/v1/+/observations/+`), one gateway's sensors,
 * or one sensor, and an ACL can confine a gateway to its own subtree
 * (`xsedge/v1/<gatewayId>/observations/#`). Kept apart from the devices'
 * `xsedge/v1/<sensorId>/up` by its extra levels.
 */
export const DEFAULT_TOPIC_TEMPLATE = "xsedge/v1/{gatewayId}/observations/{sensorId}";

/** The placeholders a topic template may hold. */
const PLACEHOLDERS = ["gatewayId", "sensorId"] as const;

/** MQTT's own bound: a topic name is a UTF-8 string with a 16-bit length prefix. */
export const MAX_TOPIC_BYTES = 65_535;

const BROKER_PROTOCOLS = ["mqtt:", "mqtts:"];

/** Bad connector options: the message names the option and what is wrong. */
export class MqttOptionError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "MqttOptionError";
  }
}

export interface TopicTemplate {
  /** The topic for one sensor; throws MqttOptionError for a sensor id that cannot be a topic level. */
  topicFor(sensorId: string): string;
}

/** Wildcards and the level separator inside a value would change which topic, or how many, a publish addresses. */
function checkLevelValue(what: string, value: string): void {
  if (value === "" || /[+#/\u0000]/.test(value)) {
    throw new MqttOptionError(`${what} must be non-empty without "+", "#", "/" or NUL, got ${JSON.stringify(value)}`);
  }
}

/**
 * Parses a template such as DEFAULT_TOPIC_TEMPLATE once, so a typo fails at
 * start rather than on the first observation.
 */
export function parseTopicTemplate(template: string, gatewayId: string): TopicTemplate {
  checkLevelValue("mqtt cloud gatewayId", gatewayId);
  if (template === "" || /[+#\u0000]/.test(template)) {
    throw new MqttOptionError(`mqtt cloud topic ${JSON.stringify(template)}: must be non-empty, without wildcards ("+", "#") or NUL`);
  }
  for (const [, name] of template.matchAll(/\{([^}]*)\}/g)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new MqttOptionError(`mqtt cloud topic ${JSON.stringify(template)}: unknown placeholder {${name}} (known: {gatewayId}, {sensorId})`);
    }
  }
  const withGateway = template.replaceAll("{gatewayId}", gatewayId);
  const topicFor = (sensorId: string): string => {
    if (!SENSOR_ID_PATTERN.test(sensorId)) throw new MqttOptionError(`sensor id ${JSON.stringify(sensorId)} cannot be a topic level`);
    return withGateway.replaceAll("{sensorId}", sensorId);
  };
  // The longest sensor id gives the longest topic.
  const longest = topicFor("x".repeat(64));
  if (Buffer.byteLength(longest) > MAX_TOPIC_BYTES) {
    throw new MqttOptionError(`mqtt cloud topic: longer than MQTT's ${MAX_TOPIC_BYTES} bytes once filled in`);
  }
  return { topicFor };
}

/**
 * The observation as JSON, exactly one element of the HTTP connector's
 * `observations` array: cloud rule engines (AWS IoT SQL, HiveMQ and EMQX
 * rules) read JSON without a schema, one validator serves both transports,
 * and sensorId + seq in it let a consumer drop the duplicates that
 * at-least-once delivery brings.
 */
export function observationPayload(observation: RelayedObservation): string {
  return JSON.stringify(observation);
}

export interface CloudBrokerUrl {
  /** Without credentials, for MQTT.js. */
  url: string;
  /** As it may be logged: never a password. */
  shown: string;
  secure: boolean;
  username?: string;
  password?: string;
}

/** Splits credentials off an mqtt:// or mqtts:// URL; throws MqttOptionError naming what is wrong. */
export function parseCloudBrokerUrl(text: string): CloudBrokerUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The text may hold a password, so it is not repeated.
    throw new MqttOptionError("mqtt cloud url: not a URL (expected mqtt://host:port or mqtts://host:port)");
  }
  if (!BROKER_PROTOCOLS.includes(url.protocol)) throw new MqttOptionError(`mqtt cloud url: protocol must be mqtt: or mqtts:, got ${url.protocol}`);
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.password = "";
  const shown = url.toString();
  url.username = "";
  return { url: url.toString(), shown, secure: url.protocol === "mqtts:", username, password };
}

/** MQTT 3.1.1 CONNACK return codes (section 3.2.2.3). */
const CONNACK_V4: Record<number, string> = {
  1: "unacceptable protocol version",
  2: "client identifier rejected",
  3: "server unavailable",
  4: "bad user name or password",
  5: "not authorized",
};

/** The MQTT 5 reason codes a broker answers CONNECT or PUBLISH with, or disconnects with (section 2.4). */
const REASONS_V5: Record<number, string> = {
  0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error", 0x83: "implementation specific error",
  0x84: "unsupported protocol version", 0x85: "client identifier not valid", 0x86: "bad user name or password",
  0x87: "not authorized", 0x88: "server unavailable", 0x89: "server busy", 0x8a: "banned",
  0x8b: "server shutting down", 0x8c: "bad authentication method", 0x8d: "keep alive timeout", 0x8e: "session taken over", 0x90: "topic name invalid", 0x91: "packet identifier in use",
  0x93: "receive maximum exceeded", 0x95: "packet too large", 0x96: "message rate too high", 0x97: "quota exceeded",
  0x99: "payload format invalid", 0x9a: "retain not supported", 0x9b: "QoS not supported", 0x9c: "use another server",
  0x9d: "server moved", 0x9f: "connection rate exceeded",
};

/** Why a broker refused a CONNECT, in words, with the code for the broker's documentation. */
export function connackRefusal(code: number, protocolVersion: 4 | 5): string {
  const words = (protocolVersion === 5 ? REASONS_V5 : CONNACK_V4)[code] ?? "unknown code";
  return `${words} (CONNACK ${protocolVersion === 5 ? `reason 0x${code.toString(16)}` : `return code ${code}`})`;
}

/** Why an MQTT 5 broker answered a PUBLISH with a failing PUBACK (reason >= 0x80). */
export function pubackRefusal(code: number): string {
  return `${REASONS_V5[code] ?? "unknown reason"} (PUBACK reason 0x${code.toString(16)})`;
}

/** Why an MQTT 5 broker sent DISCONNECT. */
export function disconnectReason(code: number): string {
  return `${code === 0 ? "normal disconnection" : (REASONS_V5[code] ?? "unknown reason")} (DISCONNECT reason 0x${code.toString(16)})`;
}
