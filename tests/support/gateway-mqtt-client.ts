/*
 * A device played with raw MQTT 3.1.1 packets (mqtt-packet), so tests see
 * exactly what the broker sends and when, without a client library's retries.
 */
import mqtt, { type IConnectPacket, type Packet } from "mqtt-packet";
import { connect, type Socket } from "node:net";
import { within } from "./test-helpers.js";

export interface Credentials {
  username: string;
  password: string;
}

/** How a test device connects: from which loopback address, and CONNECT fields beyond the login (clean, keepalive, will). */
export interface ConnectOptions {
  localAddress?: string;
  connect?: Partial<IConnectPacket>;
}

export class TestMqttClient {
  readonly clientId: string;
  readonly received: Packet[] = [];
  /** Called synchronously as each packet is parsed, before any other code runs. */
  onPacket: (packet: Packet) => void = () => {};
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  #waiters: Array<() => void> = [];
  #nextId = 1;

  private constructor(socket: Socket, clientId: string) {
    this.#socket = socket;
    this.clientId = clientId;
    const parser = mqtt.parser({ protocolVersion: 4 });
    parser.on("packet", (packet: Packet) => {
      this.received.push(packet);
      this.onPacket(packet);
      for (const wake of this.#waiters) wake();
    });
    socket.on("data", (chunk) => parser.parse(chunk));
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    this.closed.then(() => this.#waiters.forEach((wake) => wake()));
  }

  /** Connects and waits for CONNACK 0; `credentials` are the MQTT username (a sensor id) and password (its secret). */
  static async connect(port: number, clientId: string, credentials?: Credentials, options: ConnectOptions = {}): Promise<TestMqttClient> {
    const { client, returnCode } = await TestMqttClient.attempt(TestMqttClient.socket(port, options), "connect", clientId, credentials, options.connect);
    if (returnCode !== 0) throw new Error(`${clientId}: CONNACK refused with return code ${returnCode}`);
    return client;
  }

  /** A TCP socket to the gateway on 127.0.0.1, from `localAddress` (any 127.x address is this machine's loopback too). */
  static socket(port: number, options: ConnectOptions = {}): Socket {
    return connect({ port, host: "127.0.0.1", ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
  }

  /** Sends CONNECT over `socket` once it emits `ready` ("secureConnect" for TLS) and returns the CONNACK's return code, refused or not. */
  static async attempt(
    socket: Socket, ready: "connect" | "secureConnect", clientId: string, credentials?: Credentials, fields: Partial<IConnectPacket> = {},
  ): Promise<{ client: TestMqttClient; returnCode: number; sessionPresent: boolean }> {
    await within(`${ready} of ${clientId}`, new Promise<void>((resolve, reject) => socket.once(ready, resolve).once("error", reject)));
    const client = new TestMqttClient(socket, clientId);
    const login = credentials ? { username: credentials.username, password: Buffer.from(credentials.password) } : {};
    client.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId, keepalive: 0, ...login, ...fields });
    const connack = await client.waitFor("connack", (p) => p.cmd === "connack");
    return {
      client,
      returnCode: connack.cmd === "connack" ? (connack.returnCode ?? 0) : -1,
      sessionPresent: connack.cmd === "connack" && connack.sessionPresent === true,
    };
  }

  /** Writes raw bytes, as an attacker would. */
  write(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  send(packet: Packet): void {
    this.#socket.write(mqtt.generate(packet));
  }

  /** Sends a QoS 1 PUBLISH and returns its message id. */
  publish(topic: string, payload: Uint8Array, qos: 0 | 1 = 1): number {
    const messageId = this.#nextId++;
    this.send({ cmd: "publish", topic, payload: Buffer.from(payload), qos, dup: false, retain: false, messageId });
    return messageId;
  }

  /** Sends QoS 1 PUBLISHes in one socket write (so the broker reads them as one chunk); returns their message ids. */
  publishAll(messages: readonly { topic: string; payload: Uint8Array }[]): number[] {
    const ids: number[] = [];
    const packets = messages.map(({ topic, payload }) => {
      const messageId = this.#nextId++;
      ids.push(messageId);
      return mqtt.generate({ cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, dup: false, retain: false, messageId });
    });
    this.#socket.write(Buffer.concat(packets));
    return ids;
  }

  async waitFor(what: string, match: (packet: Packet) => boolean): Promise<Packet> {
    return within(
      `${what} for ${this.clientId}`,
      new Promise<Packet>((resolve, reject) => {
        const check = () => {
          const found = this.received.find(match);
          if (found) {
            this.#waiters = this.#waiters.filter((w) => w !== check);
            resolve(found);
          } else if (this.#socket.destroyed) {
            reject(new Error(`${this.clientId}: connection closed while waiting for ${what}`));
          }
        };
        this.#waiters.push(check);
        check();
      }),
    );
  }

  puback(messageId: number): Promise<Packet> {
    return this.waitFor(`PUBACK ${messageId}`, (p) => p.cmd === "puback" && p.messageId === messageId);
  }

  get connected(): boolean {
    return !this.#socket.destroyed;
  }

  async end(): Promise<void> {
    if (!this.#socket.destroyed) this.send({ cmd: "disconnect" });
    this.#socket.end();
    await within(`${this.clientId} to close`, this.closed);
  }
}
