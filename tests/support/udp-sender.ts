/*
 * A device that speaks UDP: one socket, bound on a loopback address, so
 * tests can tell sources apart (127.0.0.1 and 127.0.0.2 are both loopback).
 */
import { createSocket, type Socket } from "node:dgram";
import { within } from "./test-helpers.js";

export class UdpSender {
  readonly #socket: Socket;
  readonly #to: number;
  readonly port: number;

  private constructor(socket: Socket, to: number) {
    this.#socket = socket;
    this.#to = to;
    this.port = socket.address().port;
  }

  static async open(to: number, from = "127.0.0.1"): Promise<UdpSender> {
    const socket = createSocket("udp4");
    await within(`bind a UDP sender on ${from}`, new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, from, () => resolve());
    }));
    return new UdpSender(socket, to);
  }

  /** The gateway's "udp:<address>:<port>" name for this sender. */
  get clientId(): string {
    const { address, port } = this.#socket.address();
    return `udp:${address}:${port}`;
  }

  send(datagram: Uint8Array): Promise<void> {
    return within("UDP send", new Promise<void>((resolve, reject) => {
      this.#socket.send(datagram, this.#to, "127.0.0.1", (error) => (error ? reject(error) : resolve()));
    }));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}
