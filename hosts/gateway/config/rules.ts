/*
 * The rules that span keys. Each error names every key involved and where
 * its value came from.
 */
import type { ResolvedConfig } from "./resolve.js";
import { KEY_BY_PATH } from "./schema.js";
import { where } from "./source.js";
import { isLoopbackHost } from "../api/api-access.js";
import { sendableTokenProblem, tokenProblem } from "../../auth/bearer.js";

/** The port MQTT over TLS listens on when only its certificate and key are given (IANA "secure-mqtt"). */
export const DEFAULT_MQTT_TLS_PORT = 8883;

export function crossKeyErrors(config: ResolvedConfig): string[] {
  const errors: string[] = [];
  const { values, sources } = config;
  const has = (path: string) => values.has(path);
  const given = (path: string) => has(path) && sources.get(path)?.kind !== "default";
  const num = (path: string) => values.get(path) as number;
  const at = (path: string) => `${path} (${where(sources.get(path) ?? { kind: "default" })})`;
  const anyUnder = (prefix: string) => [...values.keys()].filter((path) => path.startsWith(prefix) && given(path));

  function ordered(low: string, high: string, relation: "<" | "<="): void {
    if (!has(low) || !has(high) || values.get(low) === null || values.get(high) === null) return;
    const ok = relation === "<" ? num(low) < num(high) : num(low) <= num(high);
    if (!ok) errors.push(`${at(low)} must be ${relation === "<" ? "less than" : "at most"} ${at(high)}, got ${num(low)} and ${num(high)}`);
  }
  ordered("outbox.lowWater", "outbox.highWater", "<");
  ordered("relay.retryInitialMs", "relay.retryMaxMs", "<=");
  ordered("registration.retryInitialMs", "registration.retryMaxMs", "<=");
  ordered("mqtt.login.delayMs", "mqtt.login.maxDelayMs", "<=");

  const tls = anyUnder("mqtt.tls.");
  if (tls.length > 0) {
    for (const needed of ["mqtt.tls.certFile", "mqtt.tls.keyFile"]) {
      if (!has(needed)) errors.push(`mqtt.tls needs ${needed} (TLS is configured by ${at(tls[0])})`);
    }
    const plain = values.get("mqtt.port");
    const tlsPort = has("mqtt.tls.port") ? num("mqtt.tls.port") : DEFAULT_MQTT_TLS_PORT;
    const sameHost = (values.get("mqtt.tls.host") ?? values.get("mqtt.host")) === values.get("mqtt.host");
    if (sameHost && plain === tlsPort && tlsPort !== 0) errors.push(`${at("mqtt.port")} and mqtt.tls.port must differ, both are ${tlsPort}`);
  }

  const external = anyUnder("externalBroker.");
  if (external.length > 0) {
    if (!has("externalBroker.url")) errors.push(`externalBroker needs externalBroker.url (the external broker is configured by ${at(external[0])})`);
    if (has("externalBroker.certFile") !== has("externalBroker.keyFile")) {
      const present = has("externalBroker.certFile") ? "externalBroker.certFile" : "externalBroker.keyFile";
      errors.push(`${at(present)} needs ${present.endsWith("certFile") ? "externalBroker.keyFile" : "externalBroker.certFile"} too`);
    }
    // The embedded broker is not started then: its settings would be silently ignored. Only
    // with a url (without one the error above says what is missing), and not for what agrees
    // with that: mqtt.port off, or a default repeated (a printed config repeats defaults).
    const inEffect = (path: string) => values.get(path) !== null && values.get(path) !== KEY_BY_PATH.get(path)?.default;
    if (has("externalBroker.url")) {
      for (const path of anyUnder("mqtt.").filter(inEffect)) {
        errors.push(`${at(path)} has no effect with ${at("externalBroker.url")}: the embedded MQTT broker is not started`);
      }
    }
  } else if (values.get("mqtt.port") === null && tls.length === 0 && !has("udp.port")) {
    errors.push(`${at("mqtt.port")} is off, and neither mqtt.tls, externalBroker nor udp is configured: devices could not reach the gateway`);
  }
  errors.push(...cloudLinkErrors(config));
  if (values.get("rules.enabled") === false) {
    for (const path of [...values.keys()].filter((key) => key.startsWith("rules.") && key !== "rules.enabled" && given(key))) {
      errors.push(`${at(path)} has no effect with ${at("rules.enabled")} false`);
    }
  }
  if (has("rules.alerts.webhook.token") && !has("rules.alerts.webhook.url")) errors.push(`${at("rules.alerts.webhook.token")} needs rules.alerts.webhook.url`);
  for (const key of ["rules.alerts.mqtt.username", "rules.alerts.mqtt.password", "rules.alerts.mqtt.clientId"]) {
    if (given(key) && !has("rules.alerts.mqtt.url")) errors.push(`${at(key)} needs rules.alerts.mqtt.url`);
  }
  errors.push(...httpErrors(config));
  return errors;
}

/** The local API: off loopback it needs a credential or an explicit http.public. */
function httpErrors(config: ResolvedConfig): string[] {
  const errors: string[] = [];
  const { values, sources } = config;
  const has = (path: string) => values.has(path);
  const at = (path: string) => `${path} (${where(sources.get(path) ?? { kind: "default" })})`;
  if (values.get("http.port") === null) return errors;
  if (has("http.token") && has("http.tokenFile")) errors.push(`${at("http.token")} and ${at("http.tokenFile")} are both set; give the tokens one way`);
  // A token given inline is judged here, where its line can be named (a token file's at start).
  const weak = has("http.token") ? tokenProblem(values.get("http.token") as string) : undefined;
  if (weak !== undefined) errors.push(`${at("http.token")} ${weak}`);
  const credential = ["http.token", "http.tokenFile", "http.tls.caFile"].find(has);
  const open = values.get("http.public") === true;
  if (open && credential !== undefined) errors.push(`${at("http.public")} serves without credentials, yet ${at(credential)} asks for one: choose one`);
  const host = values.get("http.host") as string;
  if (!isLoopbackHost(host) && credential === undefined && !open) {
    errors.push(`${at("http.host")} ${host} is not a loopback address: set http.token or http.tokenFile (or http.tls.caFile for client certificates), or http.public: true to serve it without credentials`);
  }
  const tls = [...values.keys()].filter((path) => path.startsWith("http.tls."));
  if (tls.length > 0) for (const needed of ["http.tls.certFile", "http.tls.keyFile"]) if (!has(needed)) errors.push(`http.tls needs ${needed} (TLS is configured by ${at(tls[0])})`);
  const [all, perAddress] = [values.get("http.sse.maxClients") as number, values.get("http.sse.maxClientsPerAddress") as number];
  if (perAddress > all) errors.push(`${at("http.sse.maxClientsPerAddress")} must be at most ${at("http.sse.maxClients")}, got ${perAddress} and ${all}`);
  return errors;
}

/** Keys that only one cloud transport reads, so setting them for another is a mistake worth naming. */
const CLOUD_KEYS_BY_TRANSPORT: Record<string, string> = { "akka-grpc": "cloud.akka.", mqtt: "cloud.mqtt." };

function cloudLinkErrors(config: ResolvedConfig): string[] {
  const errors: string[] = [];
  const { values, sources } = config;
  const has = (path: string) => values.has(path);
  const given = (path: string) => has(path) && sources.get(path)?.kind !== "default";
  const at = (path: string) => `${path} (${where(sources.get(path) ?? { kind: "default" })})`;
  const transport = values.get("cloud.transport") as string;
  for (const [other, prefix] of Object.entries(CLOUD_KEYS_BY_TRANSPORT)) {
    if (other === transport) continue;
    for (const path of [...values.keys()].filter((key) => key.startsWith(prefix) && given(key))) {
      errors.push(`${at(path)} has no effect with ${at("cloud.transport")} ${transport}: it is for ${other}`);
    }
  }
  // The two address keys have defaults, so only a given one can be a mistake.
  const address = transport === "http" ? "cloud.target" : transport === "akka-grpc" ? "cloud.url" : undefined;
  // A printed config repeats every default, so a default value is no mistake.
  const changed = (key: string) => given(key) && values.get(key) !== KEY_BY_PATH.get(key)?.default;
  for (const path of ["cloud.target", "cloud.url"].filter((key) => changed(key) && (key === address || transport === "mqtt"))) {
    errors.push(`${at(path)} has no effect with ${at("cloud.transport")} ${transport}`);
  }
  if (transport === "mqtt" && !has("cloud.mqtt.url")) errors.push(`${at("cloud.transport")} mqtt needs cloud.mqtt.url`);
  for (const prefix of ["cloud", "registration"]) {
    if (has(`${prefix}.token`) && has(`${prefix}.tokenFile`)) errors.push(`${at(`${prefix}.token`)} and ${at(`${prefix}.tokenFile`)} are both set; give the token one way`);
    // A client only needs a token it can send; the server judges its strength.
    const unsendable = has(`${prefix}.token`) ? sendableTokenProblem(values.get(`${prefix}.token`) as string) : undefined;
    if (unsendable !== undefined) errors.push(`${at(`${prefix}.token`)} ${unsendable}`);
  }
  if (transport === "mqtt") {
    for (const path of ["cloud.token", "cloud.tokenFile"].filter(given)) errors.push(`${at(path)} has no effect with ${at("cloud.transport")} mqtt: the broker's credentials are cloud.mqtt.username and cloud.mqtt.password`);
  }
  for (const prefix of ["cloud.tls", "registration.tls"]) {
    if (has(`${prefix}.certFile`) !== has(`${prefix}.keyFile`)) {
      const present = has(`${prefix}.certFile`) ? `${prefix}.certFile` : `${prefix}.keyFile`;
      errors.push(`${at(present)} needs ${present.endsWith("certFile") ? `${prefix}.keyFile` : `${prefix}.certFile`} too (a client certificate needs its key)`);
    }
  }
  const registration = (values.get("registration.transport") as string | undefined) ?? (transport === "http" ? "http" : "akka-grpc");
  const wrongRegistrationKey = registration === "http" ? ["registration.target", "registration.streamId", "registration.tls.enabled", "registration.idleRecycleMs"] : ["registration.url"];
  for (const path of wrongRegistrationKey.filter(given)) {
    errors.push(`${at(path)} has no effect: registrations come over ${registration}${given("registration.transport") ? ` (${at("registration.transport")})` : ` (the default with cloud.transport ${transport})`}`);
  }
  return errors;
}
