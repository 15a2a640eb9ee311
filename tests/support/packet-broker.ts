/*
 * A minimal MQTT server for device tests, built on mqtt-packet: it accepts
 * CONNECT, records each PUBLISH with its raw fields, and acknowledges QoS 1
 * unless told to stay silent. It checks the device's bytes against an
 * independent implementation of the protocol.
 */
import { createServer, type Server, type Socket } from "node:net";
import mqttPacket from "mqtt-packet";

export interface ReceivedPublish {
  topic: string;
  payload: Buffer;
  qos: number;
  messageId?: number;
  dup: boolean;
}

export interface PacketBroker {
  port: number;
  connects: Array<{ clientId: string; username?: string; clean: boolean }>;
  publishes: ReceivedPublish[];
  /** When false, PUBLISHes are recorded but not acknowledged. */
  ack: boolean;
  /** Drops every open connection, as a broker crash would. */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startPacketBroker(port = 0): Promise<PacketBroker> {
  const sockets = new Set<Socket>();
  const broker: PacketBroker = {
    port: 0,
    connects: [],
    publishes: [],
    ack: true,
    dropAll: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise<void>((resolve) => {
      broker.dropAll();
      server.close(() => resolve());
    }),
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", (packet: any) => {
      if (packet.cmd === "connect") {
        broker.connects.push({ clientId: packet.clientId, username: packet.username, clean: packet.clean });
        socket.write(mqttPacket.generate({ cmd: "connack", returnCode: 0, sessionPresent: false } as any));
      } else if (packet.cmd === "publish") {
        broker.publishes.push({ topic: packet.topic, payload: Buffer.from(packet.payload), qos: packet.qos, messageId: packet.messageId, dup: packet.dup });
        if (packet.qos === 1 && broker.ack) socket.write(mqttPacket.generate({ cmd: "puback", messageId: packet.messageId } as any));
      } else if (packet.cmd === "pingreq") {
        socket.write(mqttPacket.generate({ cmd: "pingresp" } as any));
      }
    });
    parser.on("error", () => socket.destroy());
    socket.on("data", (data) => parser.parse(data));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  broker.port = (server.address() as { port: number }).port;
  return broker;
}
