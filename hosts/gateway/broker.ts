/*
 * The gateway's embedded MQTT broker: aedes on a TCP listener, with ingest
 * done inside `authorizePublish`.
 *
 * Devices publish observations and clock anchors on one topic per sensor,
 * `xsedge/v1/<sensorId>/up` (see ingest.ts).
 *
 * Why there: aedes (lib/handlers/publish.js) runs authorizePublish and only
 * then, for QoS 1, writes the PUBACK. authorizePublish calls back only once
 * the outbox has committed the publish (group commit, ingest-queue.ts), so a
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
 */
import { Aedes, type Client, type PublishPacket, type Subscription } from "aedes";
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../log/logger.js";
import type { IngestOutcome, PublishInput } from "./ingest.js";
import { OutboxRefusal } from "./outbox.js";

/** Where publishes go: the outbox (outbox.ts), which answers once the publish is committed. */
export interface PublishIntake {
  submit(input: PublishInput): Promise<IngestOutcome>;
}

export interface MqttBrokerOptions {
  host: string;
  /** 0 picks an ephemeral port; see `MqttBroker.port`. */
  port: number;
  ingest: PublishIntake;
  logger: Logger;
  /** Called after each newly stored observation (the relay uses it to send promptly). */
  onStored?: () => void;
}

export interface MqttBroker {
  readonly host: string;
  /** The port really listened on. */
  readonly port: number;
  connectedClients(): number;
  /** Stops accepting connections; connected clients stay until `close`. */
  stopAccepting(): void;
  /** Disconnects every client and closes the listener. */
  close(): Promise<void>;
}

export async function startBroker(options: MqttBrokerOptions): Promise<MqttBroker> {
  const log = options.logger;
  // Payloads refused by ingest, so that authorizeForward can drop them:
  // aedes wraps the packet before forwarding but keeps the payload buffer.
  const refused = new WeakSet<object>();

  function authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void {
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    // The store is the record; a retained copy in the broker would only be a
    // second, unbounded one.
    packet.retain = false;
    // The callback waits for the group commit: until then aedes reads no more
    // of this client's socket, which is what bounds a fast device's memory.
    options.ingest.submit({ topic: packet.topic, payload, clientId: client?.id ?? null }).then(
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
        return callback(null);
      case "failed":
        return callback(outcome.error);
    }
  }

  function authorizeSubscribe(client: Client, sub: Subscription, callback: (error: Error | null, sub?: Subscription | null) => void): void {
    // Devices have no need to read each other's observations (yet); a null
    // subscription is answered with SUBACK 0x80 rather than a disconnect.
    log.warn(`subscribe denied for ${client.id}: ${sub.topic}`, { clientId: client.id, topic: sub.topic });
    callback(null, null);
  }

  const broker = await Aedes.createBroker({
    authorizePublish,
    authorizeSubscribe,
    authorizeForward: (_client, packet) => (refused.has(packet.payload as object) ? null : packet),
  });
  broker.on("client", (client) => log.debug("client connected", { clientId: client.id }));
  broker.on("clientDisconnect", (client) => log.debug("client disconnected", { clientId: client.id }));
  // aedes reports a dropped client's every pending packet again ("connection
  // closed"), so one line per client; and refusals by the outbox are logged
  // there, rate limited: a flood must not flood the log.
  const dropped = new WeakSet<Client>();
  broker.on("clientError", (client, error) => {
    if (dropped.has(client)) return;
    dropped.add(client);
    if (!(error instanceof OutboxRefusal)) log.warn(`client ${client.id} dropped: ${error.message}`, { clientId: client.id, error });
  });
  broker.on("connectionError", (_client, error) => log.warn(`connection dropped before CONNECT: ${error.message}`, { error }));

  // aedes only closes clients that completed CONNECT; the listener would wait
  // for the rest (up to connectTimeout), so the sockets are tracked here.
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    // aedes is already running its heartbeat timer, which would keep the process alive.
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw e;
  }
  server.on("error", (error) => log.error("mqtt listener error", { error }));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  log.info(`mqtt listening on ${options.host}:${port}`, { host: options.host, port });

  const serverClosed = new Promise<void>((resolve) => server.once("close", resolve));
  let accepting = true;
  function stopAccepting(): void {
    if (!accepting) return;
    accepting = false;
    server.close();
  }

  return {
    host: options.host,
    port,
    connectedClients: () => broker.connectedClients,
    stopAccepting,
    async close() {
      stopAccepting();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await serverClosed;
    },
  };
}
