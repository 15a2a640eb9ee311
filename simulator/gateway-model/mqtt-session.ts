/*
 * One device's MQTT 3.1.1 connection to the gateway model, parsed and
 * answered with mqtt-packet (an implementation independent of the
 * device's): CONNECT checked against the registry (CONNACK 5 for an
 * unregistered sensor, 4 for a wrong secret, as the gateway answers),
 * PUBLISH handed to the gateway and acknowledged when it says so,
 * SUBSCRIBE granted for the device's own downlink topic only (at QoS 1 at
 * most; anything else 0x80, as the gateway's broker answers), PINGREQ,
 * DISCONNECT, and a keep-alive: a connection silent for one and a half
 * times its keep-alive is closed (MQTT-3.1.2-24).
 */
import mqttPacket from "mqtt-packet";
import type { VirtualLink, VirtualSession } from "../network/virtual-network.js";

export type ConnectVerdict = "ok" | "unregistered" | "bad-secret";

export interface SessionHost {
  now(): number;
  schedule(at: number, run: () => void): void;
  verify(clientId: string, password: string | undefined): ConnectVerdict;
  /** A session logged in: the gateway closes any other of the same client (a takeover). */
  loggedIn(session: MqttSession): void;
  /** A PUBLISH: `ack` sends its PUBACK (called once the gateway has committed it). */
  publish(session: MqttSession, topic: string, payload: Uint8Array, ack: () => void): void;
  ended(session: MqttSession, reason: string): void;
  /** A packet the model refused (malformed, out of order): the connection is closed. */
  protocolError(session: MqttSession, reason: string): void;
}

const CONNACK_BAD_USERNAME_OR_PASSWORD = 4;
const CONNACK_NOT_AUTHORIZED = 5;
const SUBACK_FAILURE = 0x80;

export class MqttSession implements VirtualSession {
  clientId: string | undefined;
  readonly #link: VirtualLink;
  readonly #host: SessionHost;
  readonly #parser = mqttPacket.parser({ protocolVersion: 4 });
  #keepAliveMs = 0;
  #lastHeard: number;
  #open = true;

  constructor(link: VirtualLink, host: SessionHost) {
    this.#link = link;
    this.#host = host;
    this.#lastHeard = host.now();
    this.#parser.on("packet", (packet: mqttPacket.Packet) => this.#packet(packet));
    this.#parser.on("error", (error: Error) => this.#fail(`malformed MQTT: ${error.message}`));
  }

  get peer(): string {
    return this.#link.peer;
  }

  get open(): boolean {
    return this.#open;
  }

  data(bytes: Uint8Array): void {
    if (!this.#open) return;
    this.#lastHeard = this.#host.now();
    this.#parser.parse(Buffer.from(bytes));
  }

  closed(reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    this.#host.ended(this, reason);
  }

  /** The gateway closes it (a takeover, a refusal, the keep-alive). */
  close(reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    this.#link.close();
    this.#host.ended(this, reason);
  }

  #send(packet: object): void {
    if (this.#open) this.#link.send(mqttPacket.generate(packet as mqttPacket.Packet));
  }

  #packet(packet: mqttPacket.Packet): void {
    if (!this.#open) return;
    if (packet.cmd === "connect") return this.#connect(packet as mqttPacket.IConnectPacket);
    if (this.clientId === undefined) return this.#fail(`${packet.cmd} before CONNECT`);
    switch (packet.cmd) {
      case "publish": {
        const publish = packet as mqttPacket.IPublishPacket;
        const messageId = publish.messageId;
        const payload = typeof publish.payload === "string" ? Buffer.from(publish.payload) : publish.payload;
        this.#host.publish(this, publish.topic, new Uint8Array(payload), () => {
          if (publish.qos === 1) this.#send({ cmd: "puback", messageId });
        });
        return;
      }
      case "subscribe": {
        const subscribe = packet as mqttPacket.ISubscribePacket;
        const own = `xsedge/v1/${this.clientId}/down`;
        const granted = subscribe.subscriptions.map((s) => (s.topic === own ? Math.min(s.qos, 1) : SUBACK_FAILURE));
        return this.#send({ cmd: "suback", messageId: subscribe.messageId, granted });
      }
      case "pingreq":
        return this.#send({ cmd: "pingresp" });
      case "disconnect":
        return this.close("DISCONNECT");
      default:
        return this.#fail(`unexpected ${packet.cmd}`);
    }
  }

  #connect(packet: mqttPacket.IConnectPacket): void {
    if (this.clientId !== undefined) return this.#fail("a second CONNECT"); // [MQTT-3.1.0-2]
    const password = packet.password === undefined ? undefined : Buffer.from(packet.password).toString("utf8");
    const verdict = this.#host.verify(packet.clientId, password);
    if (verdict !== "ok") {
      this.#send({ cmd: "connack", returnCode: verdict === "unregistered" ? CONNACK_NOT_AUTHORIZED : CONNACK_BAD_USERNAME_OR_PASSWORD, sessionPresent: false });
      return this.close(`login refused: ${verdict}`);
    }
    this.clientId = packet.clientId;
    this.#keepAliveMs = (packet.keepalive ?? 0) * 1000;
    this.#send({ cmd: "connack", returnCode: 0, sessionPresent: false });
    this.#host.loggedIn(this);
    if (this.#keepAliveMs > 0) this.#watch();
  }

  #watch(): void {
    const due = this.#lastHeard + 1.5 * this.#keepAliveMs;
    this.#host.schedule(due, () => {
      if (!this.#open) return;
      if (this.#host.now() >= this.#lastHeard + 1.5 * this.#keepAliveMs) this.close("keep-alive expired");
      else this.#watch();
    });
  }

  #fail(reason: string): void {
    this.#host.protocolError(this, reason);
    this.close(reason);
  }
}
