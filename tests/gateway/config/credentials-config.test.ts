/*
 * The gateway's credentials as settings: at the cloud, cloud.token (file or
 * environment, never a flag, redacted when printed) or cloud.tokenFile,
 * which the links then present (registrations use the same token only when
 * they come from the same place); for the local API, http.token(File),
 * http.tls, http.public, and the event streams' limits.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { toGatewayOptions } from "../../../hosts/gateway/config/gateway-options.js";
import { formatConfig } from "../../../hosts/gateway/config/print-config.js";
import { resolveConfig, type ConfigInput } from "../../../hosts/gateway/config/resolve.js";
import { flagName, KEY_BY_PATH } from "../../../hosts/gateway/config/schema.js";
import { TokenError } from "../../../hosts/auth/bearer.js";
import { tempDir } from "../../support/test-helpers.js";

const TOKEN = "gateway-token-0123456789abcdef";

function options(input: ConfigInput) {
  const result = resolveConfig(input);
  if (!result.ok) throw new Error(result.errors.join("\n"));
  return { config: result.config, options: toGatewayOptions(result.config) };
}

function errors(input: ConfigInput): string {
  const result = resolveConfig(input);
  assert.is(result.ok, false);
  return result.ok ? "" : result.errors.join("\n");
}

test("cloud.token from the environment reaches both links, has no flag, and is redacted when printed", () => {
  const { config, options: o } = options({ env: { XSEDGE_GATEWAY_CLOUD_TOKEN: TOKEN } });
  assert.is(flagName(KEY_BY_PATH.get("cloud.token")!), undefined);
  assert.equal([o.cloudLink?.transport, (o.cloudLink as { token?: string }).token], ["akka-grpc", TOKEN]);
  assert.is((o.registrationLink as { token?: string }).token, TOKEN, "registrations come from the same cloud");
  const printed = formatConfig(config);
  assert.match(printed, /token: <redacted> # XSEDGE_GATEWAY_CLOUD_TOKEN/);
  assert.not.ok(printed.includes(TOKEN));
});

test("cloud.tokenFile is read at start; an unreadable or empty file, or one with two tokens, names the key and not the token", () => {
  const dir = tempDir("token-config");
  try {
    const file = join(dir.path, "gateway.token");
    writeFileSync(file, `${TOKEN}\n`);
    const { options: o } = options({ file: { name: "gw.yaml", text: `cloud:\n  transport: http\n  tokenFile: ${file}\n` } });
    assert.is((o.cloudLink as { token?: string }).token, TOKEN);
    const failure = (text: string) => {
      writeFileSync(file, text);
      const result = resolveConfig({ flags: [{ path: "cloud.tokenFile", value: file, source: { kind: "flag", name: "--cloud-token-file" } }] });
      if (!result.ok) throw new Error(result.errors.join());
      try {
        toGatewayOptions(result.config);
      } catch (error) {
        assert.ok(error instanceof TokenError);
        return (error as Error).message;
      }
      return "accepted";
    };
    assert.match(failure(""), /cloud.tokenFile .*gateway.token holds no token/);
    assert.match(failure(`${TOKEN}\nsecond-token-0123456789\n`), /holds 2 tokens; a client sends one/);
    assert.not.ok(failure(`${TOKEN}\nsecond-token-0123456789\n`).includes(TOKEN));
    assert.match(failure("has a space in it\n"), /the token may only hold letters/);
    assert.match(failure("x"), /the token is 1 characters, at least 16/);
  } finally {
    dir.remove();
  }
});

test("a token that could break its header line is refused by name, as a config error", () => {
  const refused = errors({ env: { XSEDGE_GATEWAY_CLOUD_TOKEN: "line-one\r\nX-Injected: 1" } });
  assert.match(refused, /cloud.token \(XSEDGE_GATEWAY_CLOUD_TOKEN\) may only hold/);
  assert.not.ok(refused.includes("Injected"));
});

test("registrations from another service do not get the cloud's token; they take registration.token", () => {
  const env = { XSEDGE_GATEWAY_CLOUD_TOKEN: TOKEN };
  const elsewhere = options({ env, file: { name: "gw.yaml", text: "registration:\n  target: registrations.example:8101\n" } }).options;
  assert.is((elsewhere.registrationLink as { token?: string }).token, undefined, "the cloud's token stays with the cloud");
  const own = options({ env: { ...env, XSEDGE_GATEWAY_REGISTRATION_TOKEN: "registration-token-0123456789" }, file: { name: "gw.yaml", text: "registration:\n  target: registrations.example:8101\n" } }).options;
  assert.is((own.registrationLink as { token?: string }).token, "registration-token-0123456789");
});

test("conflicting or useless token settings are configuration errors naming the keys", () => {
  assert.match(errors({ env: { XSEDGE_GATEWAY_CLOUD_TOKEN: TOKEN, XSEDGE_GATEWAY_CLOUD_TOKEN_FILE: "/x" } }), /cloud.token .* and cloud.tokenFile .* are both set/);
  assert.match(errors({ env: { XSEDGE_GATEWAY_CLOUD_TOKEN: TOKEN, XSEDGE_GATEWAY_CLOUD_TRANSPORT: "mqtt", XSEDGE_GATEWAY_CLOUD_MQTT_URL: "mqtt://b" } }), /cloud.token .* has no effect with cloud.transport .* mqtt/);
  assert.not.ok(errors({ env: { XSEDGE_GATEWAY_CLOUD_TOKEN: TOKEN, XSEDGE_GATEWAY_CLOUD_TOKEN_FILE: "/x" } }).includes(TOKEN));
});

test("the local API off loopback needs a token, a client CA or an explicit http.public", () => {
  assert.match(errors({ env: { XSEDGE_GATEWAY_HTTP_HOST: "0.0.0.0" } }), /http.host \(XSEDGE_GATEWAY_HTTP_HOST\) 0.0.0.0 is not a loopback address: set http.token or http.tokenFile/);
  assert.equal(options({ env: { XSEDGE_GATEWAY_HTTP_HOST: "0.0.0.0", XSEDGE_GATEWAY_HTTP_TOKEN: TOKEN } }).options.httpAccess, { tokens: [TOKEN] });
  assert.equal(options({ env: { XSEDGE_GATEWAY_HTTP_HOST: "0.0.0.0", XSEDGE_GATEWAY_HTTP_PUBLIC: "true" } }).options.httpAccess, { public: true });
  const tls = options({ file: { name: "gw.yaml", text: "http:\n  host: 0.0.0.0\n  tls: {certFile: /c.pem, keyFile: /k.pem, caFile: /ca.pem}\n" } }).options.httpAccess;
  assert.equal(tls, { tls: { certFile: "/c.pem", keyFile: "/k.pem", caFile: "/ca.pem" } }, "a client CA is a credential");
  assert.match(errors({ env: { XSEDGE_GATEWAY_HTTP_PUBLIC: "true", XSEDGE_GATEWAY_HTTP_TOKEN: TOKEN } }), /http.public .* serves without credentials, yet http.token .* asks for one/);
  assert.match(errors({ file: { name: "gw.yaml", text: "http:\n  tls: {caFile: /ca.pem}\n" } }), /http.tls needs http.tls.certFile/);
  assert.equal(options({}).options.httpAccess, {}, "loopback by default, open");
  assert.is(options({}).config.values.get("http.host"), "127.0.0.1");
});

test("the local API's token: redacted when printed, at least 16 characters; a token file may hold several", () => {
  const { config } = options({ env: { XSEDGE_GATEWAY_HTTP_TOKEN: TOKEN } });
  assert.not.ok(formatConfig(config).includes(TOKEN));
  assert.match(errors({ env: { XSEDGE_GATEWAY_HTTP_TOKEN: "short" } }), /http.token \(XSEDGE_GATEWAY_HTTP_TOKEN\) is 5 characters, at least 16/);
  const dir = tempDir("token-config");
  try {
    const file = join(dir.path, "api.tokens");
    writeFileSync(file, `# operators\n${TOKEN}\nsecond-api-token-0123456789\n`);
    assert.equal(options({ env: { XSEDGE_GATEWAY_HTTP_TOKEN_FILE: file } }).options.httpAccess, { tokens: [TOKEN, "second-api-token-0123456789"] });
  } finally {
    dir.remove();
  }
});

test("the event streams' limits are keys with defaults; one address may not hold more than all", () => {
  assert.equal(options({}).options.sseLimits, { maxClients: 64, maxClientsPerAddress: 8, maxBufferedBytes: 262_144, stallMs: 30_000 });
  const set = options({ file: { name: "gw.yaml", text: "http:\n  sse: {maxClients: 10, maxClientsPerAddress: 10, maxBufferedBytes: 1 MiB, stallMs: 5s}\n" } }).options.sseLimits;
  assert.equal(set, { maxClients: 10, maxClientsPerAddress: 10, maxBufferedBytes: 1_048_576, stallMs: 5000 });
  assert.match(errors({ file: { name: "gw.yaml", text: "http:\n  sse: {maxClients: 4, maxClientsPerAddress: 5}\n" } }), /http.sse.maxClientsPerAddress .* must be at most http.sse.maxClients .*, got 5 and 4/);
  assert.match(errors({ env: { XSEDGE_GATEWAY_HTTP_SSE_MAX_BUFFERED_BYTES: "100" } }), /\(http.sse.maxBufferedBytes\) must be a size in bytes from 4096/);
});

test.run();
