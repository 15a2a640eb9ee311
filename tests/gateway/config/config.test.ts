import { DEFAULT_LISTENER_LIMITS, MAX_MAX_PACKET_BYTES, MIN_MAX_PACKET_BYTES } from "../../../hosts/gateway/ingest/listener-limits.js";
import { DEFAULT_LOGIN_THROTTLE } from "../../../hosts/gateway/ingest/login-throttle.js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { toGatewayOptions, toProcessSettings } from "../../../hosts/gateway/config/gateway-options.js";
import { formatConfig, REDACTED } from "../../../hosts/gateway/config/print-config.js";
import { resolveConfig, type ConfigInput, type ResolvedConfig } from "../../../hosts/gateway/config/resolve.js";
import { CONFIG_SCHEMA, envName, flagName, KEY_BY_PATH } from "../../../hosts/gateway/config/schema.js";
import type { Setting } from "../../../hosts/gateway/config/source.js";
import { parseDuration, parseSize } from "../../../hosts/gateway/config/value-kinds.js";
import { DEFAULT_BATCH_SIZE } from "../../../hosts/gateway/relay/relay.js";

const yaml = (text: string) => ({ name: "gw.yaml", text });
const flag = (name: string, value: string): Setting => {
  const key = CONFIG_SCHEMA.find((k) => flagName(k) === name);
  if (!key) throw new Error(`no flag ${name}`);
  return { path: key.path, value, source: { kind: "flag", name } };
};

function ok(input: ConfigInput): ResolvedConfig {
  const result = resolveConfig(input);
  if (!result.ok) throw new Error(`expected a valid config, got:\n${result.errors.join("\n")}`);
  return result.config;
}

function errors(input: ConfigInput): string[] {
  const result = resolveConfig(input);
  assert.is(result.ok, false, "expected errors");
  return result.ok ? [] : result.errors;
}

test("environment variable and flag names derive from the key path", () => {
  const key = (path: string) => KEY_BY_PATH.get(path)!;
  assert.is(envName(key("mqtt.port")), "XSEDGE_GATEWAY_MQTT_PORT");
  assert.is(envName(key("outbox.maxBytes")), "XSEDGE_GATEWAY_OUTBOX_MAX_BYTES");
  assert.is(envName(key("externalBroker.password")), "XSEDGE_GATEWAY_EXTERNAL_BROKER_PASSWORD");
  assert.is(flagName(key("dataDir")), "--data-dir");
  assert.is(flagName(key("mqtt.tls.certFile")), "--mqtt-tls-cert-file");
  assert.is(flagName(key("externalBroker.password")), undefined, "a secret has no flag (it would show in ps)");
});

test("defaults alone make a valid config", () => {
  const config = ok({});
  assert.is(config.values.get("mqtt.port"), 1883);
  assert.is(config.values.get("log.format"), "json");
  assert.equal(config.sources.get("mqtt.port"), { kind: "default" });
});

test("precedence: flags over env over file over defaults, each value's source kept", () => {
  const input: ConfigInput = {
    file: yaml("mqtt:\n  port: 1000\n  host: 0.0.0.0\nrelay:\n  batchSize: 7\ndataDir: /srv/x\n"),
    env: { XSEDGE_GATEWAY_MQTT_PORT: "2000", XSEDGE_GATEWAY_RELAY_BATCH_SIZE: "8", PATH: "/bin" },
    flags: [flag("--mqtt-port", "3000")],
  };
  const config = ok(input);
  assert.is(config.values.get("mqtt.port"), 3000);
  assert.equal(config.sources.get("mqtt.port"), { kind: "flag", name: "--mqtt-port" });
  assert.is(config.values.get("relay.batchSize"), 8);
  assert.equal(config.sources.get("relay.batchSize"), { kind: "env", name: "XSEDGE_GATEWAY_RELAY_BATCH_SIZE" });
  assert.is(config.values.get("mqtt.host"), "0.0.0.0");
  assert.equal(config.sources.get("mqtt.host"), { kind: "file", file: "gw.yaml", line: 3, col: 9 });
  assert.is(config.values.get("dataDir"), "/srv/x");
});

test("sizes and durations take numbers or readable strings", () => {
  assert.is(parseSize("512 MiB"), 512 * 2 ** 20);
  assert.is(parseSize("2 GB"), 2e9);
  assert.is(parseSize("1.5kB"), 1500);
  assert.is(parseSize("12 parsecs"), undefined);
  assert.is(parseDuration("30s"), 30_000);
  assert.is(parseDuration("5m"), 300_000);
  assert.is(parseDuration("250"), 250);
  assert.is(parseDuration("soon"), undefined);
  const config = ok({ file: yaml("outbox:\n  maxBytes: 2 GiB\n  highWater: 400000\n  lowWater: 300000\nrelay:\n  retryMaxMs: 1m\n") });
  assert.is(config.values.get("outbox.maxBytes"), 2 ** 31);
  assert.is(config.values.get("relay.retryMaxMs"), 60_000);
});

test("a YAML syntax error names the file, line and column", () => {
  assert.equal(errors({ file: yaml("mqtt:\n  port: [1883\nlog: {}\n") }).length, 1);
  assert.match(errors({ file: yaml("mqtt:\n  port: [1883\nlog: {}\n") })[0], /^gw\.yaml:\d+:\d+: YAML syntax error: /);
  assert.match(errors({ file: yaml("mqtt:\n  port: 1\n  port: 2\n") })[0], /^gw\.yaml:3:3: YAML syntax error: Map keys must be unique/);
});

test("a JSON file must be strict JSON; its syntax error names line and column", () => {
  assert.match(errors({ file: { name: "gw.json", text: '{\n  "mqtt": {"port": 1883,}\n}' } })[0], /^gw\.json:2:25: JSON syntax error: /);
  assert.match(errors({ file: { name: "gw.json", text: '{"mqtt": {"port": tru}}' } })[0], /^gw\.json:1:\d+: JSON syntax error: /);
  assert.is(ok({ file: { name: "gw.json", text: '{"mqtt": {"port": 1884}, "outbox": {"maxBytes": "1 GiB"}}' } }).values.get("mqtt.port"), 1884);
  assert.match(errors({ file: { name: "gw.toml", text: "" } })[0], /gw\.toml: a config file must end in \.yaml, \.yml or \.json/);
});

test("unknown keys are errors, with a suggestion when one is close", () => {
  const found = errors({ file: yaml("mqtt:\n  prot: 1883\ncloud:\n  ulr: http://x\nbanana: 1\n") });
  assert.equal(found, [
    "gw.yaml:2:3: unknown key mqtt.prot (did you mean mqtt.port?)",
    "gw.yaml:4:3: unknown key cloud.ulr (did you mean cloud.url?)",
    "gw.yaml:5:1: unknown key banana",
  ]);
  assert.equal(errors({ env: { XSEDGE_GATEWAY_MQTT_PROT: "1" } }), ["XSEDGE_GATEWAY_MQTT_PROT: no such setting (did you mean XSEDGE_GATEWAY_MQTT_PORT?)"]);
});

test("wrong types and out-of-range values name the key and the source; all are reported at once", () => {
  const found = errors({
    file: yaml('mqtt: 1883\nrelay:\n  batchSize: "100"\n  intervalMs: -5\nlog:\n  level: loud\noutbox:\n  maxBytes: 12 parsecs\n'),
    env: { XSEDGE_GATEWAY_HTTP_PORT: "eighty", XSEDGE_GATEWAY_CLOUD_URL: "ftp://x" },
    flags: [flag("--relay-batch-size", "0")],
  });
  assert.equal(found, [
    "gw.yaml:1:7: mqtt must be a mapping of its keys, got 1883",
    'gw.yaml:3:14: relay.batchSize must be an integer from 1 to 10000, got "100"',
    "gw.yaml:4:15: relay.intervalMs must be a duration in ms from 1 to 3600000, got -5",
    'gw.yaml:6:10: log.level must be debug, info, warn or error, got "loud"',
    'gw.yaml:8:13: outbox.maxBytes must be a size in bytes (a number, or a string like "512 MiB" or "2 GB"), got "12 parsecs"',
    'XSEDGE_GATEWAY_HTTP_PORT (http.port) must be a port number from 0 to 65535, got "eighty"',
    'XSEDGE_GATEWAY_CLOUD_URL (cloud.url) must be an http or https URL, got "ftp://x"',
    '--relay-batch-size must be an integer from 1 to 10000, got "0"',
  ]);
});

test("off (env, flag) and null (file) turn a nullable listener off; elsewhere null is an error", () => {
  const config = ok({ file: yaml("http:\n  port: null\nudp:\n  port: 5684\n"), env: { XSEDGE_GATEWAY_MQTT_PORT: "off" } });
  assert.is(config.values.get("http.port"), null);
  assert.is(config.values.get("mqtt.port"), null);
  assert.equal(errors({ file: yaml("relay:\n  batchSize:\n") }), ["gw.yaml:2:3: relay.batchSize must be an integer from 1 to 10000, got null"]);
});

test("an empty environment variable counts as unset", () => {
  assert.is(ok({ env: { XSEDGE_GATEWAY_MQTT_PORT: "" } }).values.get("mqtt.port"), 1883);
});

test("cross-key rules name every key involved and where it came from", () => {
  assert.equal(errors({ file: yaml("outbox:\n  maxBytes: 1 GiB\n  highWater: 600000\n"), env: { XSEDGE_GATEWAY_OUTBOX_LOW_WATER: "700000" } }), [
    "outbox.lowWater (XSEDGE_GATEWAY_OUTBOX_LOW_WATER) must be less than outbox.highWater (gw.yaml:3:14), got 700000 and 600000",
  ]);
  assert.equal(errors({ flags: [flag("--relay-retry-initial-ms", "1m")] }), [
    "relay.retryInitialMs (--relay-retry-initial-ms) must be at most relay.retryMaxMs (default), got 60000 and 30000",
  ]);
  assert.equal(errors({ file: yaml("registration:\n  retryInitialMs: 10s\n  retryMaxMs: 1s\n") }).length, 1);
});

test("TLS needs a certificate and a key, on a port other than the plain one", () => {
  assert.equal(errors({ file: yaml("mqtt:\n  tls:\n    port: 8883\n") }), [
    "mqtt.tls needs mqtt.tls.certFile (TLS is configured by mqtt.tls.port (gw.yaml:3:11))",
    "mqtt.tls needs mqtt.tls.keyFile (TLS is configured by mqtt.tls.port (gw.yaml:3:11))",
  ]);
  assert.equal(errors({ file: yaml("mqtt:\n  port: 8883\n  tls: {certFile: c.pem, keyFile: k.pem}\n") }), [
    "mqtt.port (gw.yaml:2:9) and mqtt.tls.port must differ, both are 8883",
  ]);
  const options = toGatewayOptions(ok({ file: yaml("mqtt:\n  port: null\n  tls: {certFile: /etc/c.pem, keyFile: /etc/k.pem}\n") }));
  assert.equal(options.mqttTls, { port: 8883, certFile: "/etc/c.pem", keyFile: "/etc/k.pem" });
  assert.is(options.mqttPort, null);
});

test("the external broker needs an mqtt:// or mqtts:// url, and replaces the embedded broker", () => {
  assert.match(errors({ env: { XSEDGE_GATEWAY_EXTERNAL_BROKER_URL: "http://broker" } })[0], /XSEDGE_GATEWAY_EXTERNAL_BROKER_URL \(externalBroker\.url\) must be an mqtt or mqtts URL/);
  assert.equal(errors({ file: yaml("externalBroker:\n  username: gw\n") }), [
    "externalBroker needs externalBroker.url (the external broker is configured by externalBroker.username (gw.yaml:2:13))",
  ]);
  assert.equal(errors({ file: yaml("externalBroker:\n  url: mqtts://b:8883\n  certFile: c.pem\n") }), ["externalBroker.certFile (gw.yaml:3:13) needs externalBroker.keyFile too"]);
  assert.equal(errors({ file: yaml("externalBroker:\n  url: mqtt://b\n"), flags: [flag("--mqtt-port", "1884")] }), [
    "mqtt.port (--mqtt-port) has no effect with externalBroker.url (gw.yaml:2:8): the embedded MQTT broker is not started",
  ]);
  const options = toGatewayOptions(ok({ file: yaml("externalBroker:\n  url: mqtt://b\n  topic: xsedge/v1/+/up\n"), env: { XSEDGE_GATEWAY_EXTERNAL_BROKER_PASSWORD: "s3cret" } }));
  assert.equal(options.externalBroker, { url: "mqtt://b", password: "s3cret", topic: "xsedge/v1/+/up" });
  assert.is(options.mqttPort, undefined, "no embedded listener beside the external broker");
});

test("external broker messages do not contradict the config: no url means only that it is missing; mqtt.port off and repeated defaults agree with it; --print-config leaves the embedded broker out", () => {
  // The example config (mqtt.host set) with only the broker's password in the environment.
  const example = { name: "gateway.yaml", text: readFileSync(fileURLToPath(new URL("../../../../hosts/gateway/gateway.example.yaml", import.meta.url)), "utf8") };
  assert.equal(errors({ file: example, env: { XSEDGE_GATEWAY_EXTERNAL_BROKER_PASSWORD: "s3cret" } }), [
    "externalBroker needs externalBroker.url (the external broker is configured by externalBroker.password (XSEDGE_GATEWAY_EXTERNAL_BROKER_PASSWORD))",
  ]);
  const off = ok({ file: yaml("externalBroker:\n  url: mqtt://b\n"), flags: [flag("--mqtt-port", "off")] });
  assert.is(off.values.get("mqtt.port"), null, "--mqtt-port off agrees with an external broker");
  const printed = formatConfig(ok({ file: yaml("externalBroker:\n  url: mqtt://b\n") }));
  assert.not.match(printed, /^mqtt:/m, "no embedded-broker settings beside an external broker");
  assert.match(printed, /^externalBroker:\n  url: mqtt:\/\/b # gw\.yaml:2:8$/m);
  // A printed config repeats defaults; loaded back, they are no mistake.
  const printedDefaults = "mqtt:\n  host: 127.0.0.1 # default\n  port: 1883 # default\nexternalBroker:\n  url: mqtt://b\n";
  ok({ file: yaml(printedDefaults) });
});

test("a config file nested thousands deep is refused by name, line and column, before the parser sees it", () => {
  const deepJson = `{"mqtt": ${"[".repeat(5000)}${"]".repeat(5000)}}`;
  assert.equal(errors({ file: { name: "gw.json", text: deepJson } }), ["gw.json:1:41: nested deeper than 32 levels; a config's keys are at most 3 deep (mqtt.tls.certFile)"]);
  assert.match(errors({ file: yaml(`mqtt:\n  port: ${"{a: ".repeat(5000)}1${"}".repeat(5000)}\n`) })[0], /^gw\.yaml:2:\d+: nested deeper than 32 levels/);
  assert.match(errors({ file: yaml(`${"- ".repeat(5000)}x\n`) })[0], /^gw\.yaml:1:1: nested deeper than 32 levels/);
  const block = Array.from({ length: 40 }, (_, i) => `${" ".repeat(i)}a:`).join("\n");
  assert.match(errors({ file: yaml(block) })[0], /^gw\.yaml:33:33: nested deeper than 32 levels/);
  // Brackets and dashes inside strings and comments are text, not nesting.
  ok({ file: yaml(`# ${"[".repeat(100)}\nlog:\n  level: info # ${"{".repeat(100)}\nexternalBroker:\n  url: mqtt://b\n  topic: "${"[".repeat(100)}"\n`) });
});

test("a config where no device could reach the gateway is refused", () => {
  assert.equal(errors({ flags: [flag("--mqtt-port", "off")] }), [
    "mqtt.port (--mqtt-port) is off, and neither mqtt.tls, externalBroker nor udp is configured: devices could not reach the gateway",
  ]);
});

test("a secret is never echoed: not in errors, not in the printed config", () => {
  const found = errors({ file: yaml("externalBroker:\n  url: mqtt://b\n  password: [hunter2]\n") });
  assert.equal(found, ["gw.yaml:3:13: externalBroker.password must be a non-empty string, got (redacted)"]);
  const printed = formatConfig(ok({ file: yaml("externalBroker:\n  url: mqtt://b\n  password: hunter2\n") }));
  assert.not.match(printed, /hunter2/);
  assert.match(printed, new RegExp(`password: "?${REDACTED}"? # gw\\.yaml:3:13`));
});

test("the printed config loads back to the same values", () => {
  const config = ok({ file: yaml("mqtt:\n  host: 0.0.0.0\n  tls: {certFile: 'a: b.pem', keyFile: k.pem}\nhttp: {port: null}\n"), env: { XSEDGE_GATEWAY_OUTBOX_MAX_BYTES: "1 GiB" } });
  const printed = formatConfig(config);
  const again = ok({ file: yaml(printed) });
  assert.equal([...again.values], [...config.values]);
  assert.match(printed, /maxBytes: 1073741824 # XSEDGE_GATEWAY_OUTBOX_MAX_BYTES/);
});

test("the resolved config maps to startGateway's options and the process settings", () => {
  const config = ok({
    file: yaml("dataDir: /var/lib/xsedge\nhttp: {host: 0.0.0.0, port: 8080, public: true}\nudp: {port: 5684}\nrateLimit: {perSecond: 2.5, burst: 10}\nregistration: {transport: http, url: http://r, retryInitialMs: 1s, retryMaxMs: 1m}\n"),
    flags: [flag("--log-format", "pretty"), flag("--shutdown-deadline-ms", "2s")],
  });
  const options = toGatewayOptions(config);
  assert.equal(options, {
    dataDir: "/var/lib/xsedge", mqttHost: "127.0.0.1", mqttPort: 1883, udpPort: 5684, httpHost: "0.0.0.0", httpPort: 8080,
    cloudLink: { transport: "akka-grpc", target: "127.0.0.1:8101" }, registrationLink: { transport: "http", url: "http://r" },
    httpAccess: { public: true }, sseLimits: { maxClients: 64, maxClientsPerAddress: 8, maxBufferedBytes: 262_144, stallMs: 30_000 },
    registrationRetryInitialMs: 1000, registrationRetryMaxMs: 60_000,
    rateLimitPerSecond: 2.5, rateLimitBurst: 10, relayBatchSize: DEFAULT_BATCH_SIZE, relayIntervalMs: 1000, relayRetryInitialMs: 500, relayRetryMaxMs: 30_000,
    mqttLimits: { ...DEFAULT_LISTENER_LIMITS },
    mqttLoginThrottle: { initialDelayMs: DEFAULT_LOGIN_THROTTLE.initialDelayMs, maxDelayMs: DEFAULT_LOGIN_THROTTLE.maxDelayMs, maxFailures: DEFAULT_LOGIN_THROTTLE.maxFailures, forgetAfterMs: DEFAULT_LOGIN_THROTTLE.forgetAfterMs },
  });
  assert.equal(toProcessSettings(config), { log: { level: "info", format: "pretty" }, stopDeadlineMs: 2000 });
});

test("the device listener's limits are keys of their own, checked by name", () => {
  const options = toGatewayOptions(ok({
    file: yaml("mqtt:\n  maxPacketBytes: 2 KiB\n  connectTimeoutMs: 2s\n  maxConnectionsPerAddress: 5000\n  login: {delayMs: 1s, maxFailures: 3}\n"),
    env: { XSEDGE_GATEWAY_MQTT_MAX_UNAUTHENTICATED: "10" },
    flags: [flag("--mqtt-max-in-flight", "64")],
  }));
  assert.equal(options.mqttLimits, { ...DEFAULT_LISTENER_LIMITS, maxPacketBytes: 2048, connectTimeoutMs: 2000, maxConnectionsPerAddress: 5000, maxUnauthenticated: 10, maxInFlight: 64 });
  assert.equal([options.mqttLoginThrottle?.initialDelayMs, options.mqttLoginThrottle?.maxFailures], [1000, 3]);
  assert.equal(errors({ file: yaml("mqtt: {maxPacketBytes: 16}\n") }), [`gw.yaml:1:24: mqtt.maxPacketBytes must be a size in bytes from ${MIN_MAX_PACKET_BYTES} to ${MAX_MAX_PACKET_BYTES}, got 16`]);
  assert.equal(errors({ file: yaml("mqtt:\n  login: {delayMs: 10s, maxDelayMs: 1s}\n") }), [
    "mqtt.login.delayMs (gw.yaml:2:20) must be at most mqtt.login.maxDelayMs (gw.yaml:2:37), got 10000 and 1000",
  ]);
});

test("cloud links: Akka gRPC by default, registrations follow the cloud's transport unless told", () => {
  assert.equal(toGatewayOptions(ok({})).registrationLink, { transport: "akka-grpc", target: "127.0.0.1:8101" });
  const http = toGatewayOptions(ok({ file: yaml("cloud: {transport: http, url: https://cloud.example, tls: {caFile: /etc/ca.pem}}\n") }));
  assert.equal(http.cloudLink, { transport: "http", url: "https://cloud.example", tls: { caFile: "/etc/ca.pem" } });
  assert.equal(http.registrationLink, { transport: "http", url: "https://cloud.example", tls: { caFile: "/etc/ca.pem" } });
  const akka = toGatewayOptions(ok({
    file: yaml("cloud:\n  target: cloud.example:443\n  akka: {originId: edge-7, payload: observation, maxInFlight: 32}\n  tls: {certFile: c.pem, keyFile: k.pem}\n"),
    env: { XSEDGE_GATEWAY_REGISTRATION_STREAM_ID: "regs" },
  }));
  assert.equal(akka.cloudLink, {
    transport: "akka-grpc", target: "cloud.example:443", originId: "edge-7", payload: "observation", maxInFlight: 32,
    tls: { certFile: `${process.cwd()}/c.pem`, keyFile: `${process.cwd()}/k.pem` },
  });
  assert.equal(akka.registrationLink, { transport: "akka-grpc", target: "cloud.example:443", streamId: "regs", tls: akka.cloudLink!.tls });
  // A public CA needs no file: enabled alone turns TLS on; false turns it off despite files.
  assert.equal(toGatewayOptions(ok({ flags: [flag("--cloud-tls-enabled", "true")] })).cloudLink, { transport: "akka-grpc", target: "127.0.0.1:8101", tls: {} });
  const own = toGatewayOptions(ok({ file: yaml("registration: {target: '[::1]:9000', tls: {enabled: false}}\ncloud: {tls: {caFile: ca.pem}}\n") }));
  assert.equal(own.registrationLink, { transport: "akka-grpc", target: "[::1]:9000" });
  const mqtt = toGatewayOptions(ok({ file: yaml("cloud: {transport: mqtt, mqtt: {url: mqtts://b:8883, username: gw}}\n"), env: { XSEDGE_GATEWAY_CLOUD_MQTT_PASSWORD: "pw" } }));
  assert.equal(mqtt.cloudLink, { transport: "mqtt", url: "mqtts://b:8883", username: "gw", password: "pw" });
  assert.equal(mqtt.registrationLink, { transport: "akka-grpc", target: "127.0.0.1:8101" });
});

test("the Akka link's ack timeout and the registration stream's idle recycle are settings; off turns the recycle off", () => {
  const options = toGatewayOptions(ok({ file: yaml("cloud:\n  akka:\n    ackTimeoutMs: 15s\nregistration:\n  idleRecycleMs: 5m\n") }));
  assert.is(options.cloudLink?.transport === "akka-grpc" && options.cloudLink.ackTimeoutMs, 15_000);
  assert.is(options.registrationLink?.transport === "akka-grpc" && options.registrationLink.idleRecycleMs, 300_000);
  const off = toGatewayOptions(ok({ env: { XSEDGE_GATEWAY_REGISTRATION_IDLE_RECYCLE_MS: "off" } }));
  assert.is(off.registrationLink?.transport === "akka-grpc" && off.registrationLink.idleRecycleMs, 0);
  assert.match(errors({ flags: [flag("--cloud-akka-ack-timeout-ms", "5")] })[0], /--cloud-akka-ack-timeout-ms must be a duration in ms from 100 to 600000, got "5"/);
  assert.match(errors({ flags: [flag("--cloud-transport", "http"), flag("--registration-idle-recycle-ms", "1m")] }).join(), /registration.idleRecycleMs \(--registration-idle-recycle-ms\) has no effect: registrations come over http/);
});

test("cloud link settings that cannot work are refused by name", () => {
  assert.equal(errors({ file: yaml("cloud: {target: 'cloud.example'}\n") }), [
    'gw.yaml:1:17: cloud.target must be host:port (e.g. "127.0.0.1:8101" or "[::1]:8101"), got "cloud.example"',
  ]);
  assert.equal(errors({ flags: [flag("--cloud-tls-enabled", "maybe")] }), ['--cloud-tls-enabled must be true or false, got "maybe"']);
  assert.equal(errors({ file: yaml("cloud: {transport: mqtt}\n") }), ["cloud.transport (gw.yaml:1:20) mqtt needs cloud.mqtt.url"]);
  assert.equal(errors({ file: yaml("cloud:\n  transport: http\n  akka: {payload: observation}\n") }), [
    "cloud.akka.payload (gw.yaml:3:19) has no effect with cloud.transport (gw.yaml:2:14) http: it is for akka-grpc",
  ]);
  assert.equal(errors({ file: yaml("cloud: {tls: {certFile: c.pem}}\n") }), ["cloud.tls.certFile (gw.yaml:1:25) needs cloud.tls.keyFile too (a client certificate needs its key)"]);
  assert.equal(errors({ file: yaml("registration: {url: http://r}\n") }), [
    "registration.url (gw.yaml:1:21) has no effect: registrations come over akka-grpc (the default with cloud.transport akka-grpc)",
  ]);
  assert.equal(errors({ file: yaml("registration: {transport: http, target: 'a:1'}\n") }), [
    "registration.target (gw.yaml:1:41) has no effect: registrations come over http (registration.transport (gw.yaml:1:27))",
  ]);
});

test("the example config for a Pi is valid and says what the README and the unit say", () => {
  const name = fileURLToPath(new URL("../../../../hosts/gateway/gateway.example.yaml", import.meta.url));
  const config = ok({ file: { name, text: readFileSync(name, "utf8") } });
  assert.is(config.values.get("dataDir"), "/var/lib/xsedge");
  assert.is(config.values.get("mqtt.host"), "0.0.0.0");
  assert.is(config.values.get("mqtt.port"), 1883);
  assert.is(config.values.get("http.port"), 8080);
  assert.is(config.values.get("http.host"), "127.0.0.1", "the local API stays on this machine unless given a credential");
  assert.ok(parseYaml(readFileSync(name, "utf8")), "plain YAML");
});

test.run();
