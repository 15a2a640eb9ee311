/*
 * The rules.* settings of `xsedge gateway`: from a file and the
 * environment to the gateway's options, the mistakes they are checked
 * for, and the secrets --print-config never shows.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { toGatewayOptions } from "../../../hosts/gateway/config/gateway-options.js";
import { formatConfig } from "../../../hosts/gateway/config/print-config.js";
import { envSettings, resolveConfig, type ConfigInput } from "../../../hosts/gateway/config/resolve.js";

const yaml = (text: string) => ({ name: "gw.yaml", text });

function resolved(input: ConfigInput) {
  const result = resolveConfig(input);
  if (!result.ok) throw new Error(result.errors.join("\n"));
  return result.config;
}

function errors(input: ConfigInput): string[] {
  const result = resolveConfig(input);
  return result.ok ? [] : result.errors;
}

test("by default rules are on with the gateway's own defaults (one worker, the default memory cap and verdict wait, no alert sink)", () => {
  const config = resolved({});
  assert.is(config.values.get("rules.enabled"), true);
  assert.is(toGatewayOptions(config).rules, undefined);
  assert.match(formatConfig(config), /\nrules:\n {2}enabled: true # default\n/);
});

test("workers, the memory cap, the verdict wait and both alert sinks from a file, a secret from the environment", () => {
  const file = yaml(`rules:
  workers: 2
  workerMemoryBytes: 256 MiB
  verdictWaitMs: 2s
  alerts:
    webhook:
      url: https://ops.example.com/hooks/xsedge
    mqtt:
      url: mqtts://broker.example.com
      topic: site-7/alerts
      username: gw-7
`);
  const env = { XSEDGE_GATEWAY_RULES_ALERTS_WEBHOOK_TOKEN: "s3cret-token", XSEDGE_GATEWAY_RULES_ALERTS_MQTT_PASSWORD: "mqtt-pass" };
  assert.equal(envSettings(env).errors, []);
  const config = resolved({ file, env });
  assert.equal(toGatewayOptions(config).rules, {
    workers: 2,
    workerMemoryBytes: 256 * 2 ** 20,
    verdictWaitMs: 2000,
    alerts: {
      webhook: { url: "https://ops.example.com/hooks/xsedge", token: "s3cret-token" },
      mqtt: { url: "mqtts://broker.example.com", topic: "site-7/alerts", username: "gw-7", password: "mqtt-pass" },
    },
  });
  const printed = formatConfig(config);
  assert.not.match(printed, /s3cret-token|mqtt-pass/, "secrets are redacted");
  assert.match(printed, /\n {6}token: <redacted> # XSEDGE_GATEWAY_RULES_ALERTS_WEBHOOK_TOKEN\n/);
});

test("rules.enabled false turns the rules off; a rules key then, a token without its URL or workers out of range are mistakes named with their source", () => {
  assert.is(toGatewayOptions(resolved({ file: yaml("rules: {enabled: false}\n") })).rules, null);
  assert.equal(errors({ file: yaml("rules: {enabled: false, workers: 2}\n") }), ["rules.workers (gw.yaml:1:34) has no effect with rules.enabled (gw.yaml:1:18) false"]);
  assert.match(errors({ env: { XSEDGE_GATEWAY_RULES_ALERTS_WEBHOOK_TOKEN: "t" } }).join("\n"), /rules\.alerts\.webhook\.token \(XSEDGE_GATEWAY_RULES_ALERTS_WEBHOOK_TOKEN\) needs rules\.alerts\.webhook\.url/);
  assert.match(errors({ file: yaml("rules: {workers: 9}\n") }).join("\n"), /rules\.workers .*must be an integer from 1 to 8/);
  assert.match(errors({ file: yaml("rules: {alerts: {mqtt: {url: 'http://x'}}}\n") }).join("\n"), /rules\.alerts\.mqtt\.url/);
});

test.run();
