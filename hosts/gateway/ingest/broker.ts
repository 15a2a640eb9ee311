/*
 * The gateway's embedded MQTT broker: aedes on a TCP listener, with ingest
 * done inside `authorizePublish`.
 *
 * Devices publish observations and clock anchors on one topic per sensor,
 * `xsedge/v1/<sensorId>/up` (see ingest.ts).
 *
 * Why there: aedes (lib/handlers/publish.js) runs authorizePublish and only
 * then, for QoS 1, writes the PUBACK. authorizePublish calls back only once
 * the outbox has committed the publish (group commit, queue.ts), so a
 * device's PUBACK always follows the durable commit, for an observation and
 * for a clock anchor (with the rows it timed) alike.
 *
 * What aedes does when authorizePublish calls back with an error: the
 * handler's `done(err)` reaches the client's `nextBatch`, which emits
 * 'error'; the client's `_onError` destroys the socket, emits `clientError`
 * and closes the client (publishing its will). No PUBACK is sent (MQTT 3.1.1
 * has no negative PUBACK). The broker and the other clients are unaffected,
 * but the device, never having its PUBACK, resends the same publish after
 * reconnecting, is refused again, and so on forever.
 *
 * So a refused payload is acknowledged, not errored: it is quarantined and
 * counted by `ingest`, the PUBACK lets the device drop it and move on, and
 * it is not forwarded (nobody may subscribe yet anyway, and authorizeForward
 * drops it too). Only a publish that could not be committed at all (the
 * store failed) is answered with an error: then the disconnect is what we
 * want, since the device keeps the record and retries it later. The same
 * goes for a publish the outbox refuses for overload (rate limit,
 * backpressure): the device keeps it and comes back slower.
 *
 * Devices authenticate on CONNECT (device-auth.ts: username = sensor id,
 * password = its registered secret; CONNACK 4 or 5 otherwise), and may then
 * publish only their own sensor's records: anything else is refused by
 * ingest as "wrong-sensor", quarantined and acknowledged like any refusal.
 * Devices may also connect over TLS (mqtt-tls.ts): the same aedes handles
 * both listeners' sockets.
 *
 * Messages to devices (aedes-downlink.ts): a device may subscribe to its own
 * downlink topic and to nothing else, and its publishes on its own report
 * topic go to the downlink's report handler instead of ingest.
 */
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from "aedes";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { Logger } from "../../log/logger.js";
import { AedesDownlink } from "./aedes-downlink.js";
import { DeviceAuth, type AuthCounters } from "./device-auth.js";
import type { DeviceDownlink } from "./downlink.js";
import type { IngestOutcome, PublishInput } from "./ingest.js";
import { loadTlsServerOptions, type MqttTlsOptions } from "./mqtt-tls.js";
import { OutboxRefusal } from "./outbox.js";
import { RefusalLog } from "./refusal-log.js";
import type { SensorRegistry } from "./sensor-registry.js";

/** Where publishes go: the outbox (outbox.ts), which answers once the publish is committed. */
export interface PublishIntake {
  submit(input: PublishInput): Promise<IngestOutcome>;
}

export interface MqttBrokerOptions {
  host: string;
  /** 0 picks an ephemeral port; see `MqttBroker.port`. Null: no plain listener (TLS only). */
  port: number | null;
  ingest: PublishIntake;
  /** Who may connect: username = sensor id, password = its secret. */
  registry: SensorRegistry;
  /** A second listener for devices, over TLS. */
  tls?: MqttTlsOptions;
  logger: Logger;
  /** Called after each newly stored observation (the relay uses it to send promptly). */
  onStored?: () => void;
  /** The clock refusal log lines are throttled by; Date.now by default. */
  now?: () => number;
}

export interface MqttBroker {
  readonly host: string;
  /** The plain listener's port really listened on; null when there is none (TLS only). */
  readonly port: number | null;
  /** The TLS listener's port, when there is one. */
  readonly tlsPort: number | undefined;
  connectedClients(): number;
  authCounters(): AuthCounters;
  /** Messages to the devices connected here. */
  readonly downlink: DeviceDownlink;
  /** Stops accepting connections; connected clients stay until `close`. */
  stopAccepting(): void;
  /** Disconnects every client and closes the listener. */
  close(): Promise<void>;
}

export async function startBroker(options: MqttBrokerOptions): Promise<MqttBroker> {
  const log = options.logger;
  // Read before anything starts, so a bad file fails the start with its name.
  const tlsOptions = options.tls ? loadTlsServerOptions(options.tls) : undefined;
  const auth = new DeviceAuth(options.registry, log, options.now);
  // Lines a remote party can repeat at will (a subscribe loop, connections that never CONNECT): throttled like refusals.
  const refusals = new RefusalLog(log, options.now);
  // The sensor id each client authenticated as.
  const authenticated = new WeakMap<Client, string>();
  // Clients whose "dropped" line is not to be written: already written once, or refused at CONNECT (logged there).
  const dropped = new WeakSet<Client>();
  const downlink = new AedesDownlink(log.child("downlink"), (client) => authenticated.get(client), options.now);

  function authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    callback: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const verdict = auth.connect(client.id, username, password);
    if (verdict.ok) {
      authenticated.set(client, verdict.sensorId);
      return callback(null, true);
    }
    // aedes answers with CONNACK returnCode, then closes the connection and reports the client as dropped.
    dropped.add(client);
    callback(Object.assign(new Error(verdict.detail), { returnCode: verdict.returnCode }) as AuthenticateError, false);
  }
  // Payloads refused by ingest, so that authorizeForward can drop them:
  // aedes wraps the packet before forwarding but keeps the payload buffer.
  const refused = new WeakSet<object>();

  function authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void {
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    const authenticatedAs = client ? (authenticated.get(client) ?? null) : null;
    // The store is the record; a retained copy in the broker would only be a
    // second, unbounded one.
    packet.retain = false;
    if (downlink.isReportTopic(packet.topic)) {
      // A report is the downlink's, never an observation; nobody may read it from the broker either.
      refused.add(payload);
      downlink.report(client, packet, payload).then(() => callback(null), (error: Error) => callback(error));
      return;
    }
    // The callback waits for the group commit: until then aedes reads no more
    // of this client's socket, which is what bounds a fast device's memory.
    options.ingest.submit({ topic: packet.topic, payload, clientId: client?.id ?? null, authenticatedAs }).then(
      (outcome) => answer(outcome, payload, callback),
      (error: Error) => callback(error),
    );
  }

  function answer(outcome: IngestOutcome, payload: Buffer, callback: (error?: Error | null) => void): void {
    switch (outcome.kind) {
      case "stored":
        options.onStored?.();
        return callback(null);
      case "batch":
        if (outcome.stored > 0) options.onStored?.();
        return callback(null);
      case "duplicate":
      case "anchor":
        // An anchor only times rows that are already waiting for the relay.
        return callback(null);
      case "refused":
        refused.add(payload);
        if (outcome.reason === "wrong-sensor") auth.countWrongSensor();
        return callback(null);
      case "failed":
        return callback(outcome.error);
    }
  }

  function authorizeSubscribe(client: Client, sub: Subscription, callback: (error: Error | null, sub?: Subscription | null) => void): void {
    const granted = downlink.authorizeSubscribe(client, sub);
    if (granted) return callback(null, granted);
    // A device reads its own downlink and nothing else (not another's, not
    // observations); a null subscription is answered with SUBACK 0x80 rather
    // than a disconnect.
    refusals.warn(client.id, "subscribe-denied", `subscribe denied for ${client.id}: ${sub.topic}`, { clientId: client.id, topic: sub.topic });
    callback(null, null);
  }

  const broker = await Aedes.createBroker({
    authenticate,
    authorizePublish,
    authorizeSubscribe,
    authorizeForward: (_client, packet) => (refused.has(packet.payload as object) ? null : packet),
  });
  downlink.attach(broker);
  broker.on("client", (client) => log.debug("client connected", { clientId: client.id }));
  broker.on("clientDisconnect", (client) => log.debug("client disconnected", { clientId: client.id }));
  // aedes reports a dropped client's every pending packet again ("connection
  // closed"), so one line per client; and refusals by the outbox are logged
  // there, rate limited: a flood must not flood the log.
  broker.on("clientError", (client, error) => {
    if (dropped.has(client)) return;
    dropped.add(client);
    if (!(error instanceof OutboxRefusal)) refusals.warn(client.id, "dropped", `client ${client.id} dropped: ${error.message}`, { clientId: client.id, error });
  });
  broker.on("connectionError", (_client, error) => refusals.warn(null, "before-connect", `connection dropped before CONNECT: ${error.message}`, { error }));

  // aedes only closes clients that completed CONNECT; the listeners would wait
  // for the rest (up to connectTimeout), so the sockets are tracked here.
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  const listeners: Listener[] = [];
  if (options.port !== null) {
    const plain: Server = createServer((socket) => broker.handle(socket));
    plain.on("connection", track);
    listeners.push({ server: plain, port: options.port, host: options.host, what: "mqtt" });
  }
  if (options.tls && tlsOptions) {
    const tlsServer = createTlsServer(tlsOptions, (socket) => broker.handle(socket));
    // "connection" is the raw TCP socket, before (and whatever becomes of) the handshake.
    tlsServer.on("connection", track);
    tlsServer.on("tlsClientError", (error, socket) => {
      auth.countTlsFailure();
      refusals.warn(socket.remoteAddress ?? null, "tls-failed", `TLS connection from ${socket.remoteAddress ?? "?"} failed: ${error.message}`, { remote: socket.remoteAddress, error });
    });
    listeners.push({ server: tlsServer, port: options.tls.port, host: options.tls.host ?? options.host, what: "mqtt over TLS", tls: true });
  }
  if (listeners.length === 0) throw new RangeError("no MQTT listener: give a plain port, TLS, or both");
  try {
    for (const listener of listeners) await listen(listener);
  } catch (e) {
    for (const { server } of listeners) if (server.listening) server.close();
    // aedes is already running its heartbeat timer, which would keep the process alive.
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw e;
  }
  for (const { server, host, port, what } of listeners) {
    server.on("error", (error) => log.error(`${what} listener error`, { error }));
    log.info(`${what} listening on ${host}:${port}`, { host, port });
  }
  const serversClosed = Promise.all(listeners.map(({ server }) => new Promise<void>((resolve) => server.once("close", resolve))));
  let accepting = true;
  function stopAccepting(): void {
    if (!accepting) return;
    accepting = false;
    for (const { server } of listeners) server.close();
  }

  return {
    host: options.host,
    port: listeners.find((l) => !l.tls)?.port ?? null,
    tlsPort: listeners.find((l) => l.tls)?.port,
    connectedClients: () => broker.connectedClients,
    authCounters: () => auth.counters(),
    downlink,
    stopAccepting,
    async close() {
      stopAccepting();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await serversClosed;
    },
  };
}

interface Listener {
  server: Server;
  host: string;
  /** As requested until listening; then the port really bound (0 picks one). */
  port: number;
  what: string;
  tls?: boolean;
}

async function listen(listener: Listener): Promise<void> {
  const { server } = listener;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listener.port, listener.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (typeof address === "object" && address) listener.port = address.port;
}
