/*
 * The device's MQTT 3.1.1 client: QoS 1 publishing with a bounded in-flight
 * window, keep-alive, and reconnection with backoff.
 *
 * Like a Moddable driver, it is handed its I/O: the ECMA-419 TCP class (the
 * SDK's embedded:io/socket/tcp on a board, an adapter in the simulator and in
 * Node tests) and the timers. It imports neither, so one file runs on all three.
 *
 * Nothing is queued beyond the window: publish() answers false when the
 * window is full or the link is down, and the caller keeps its record (the
 * device's flash log is the real queue). Messages in the window survive a
 * reconnect and close() hands back whatever was still unacknowledged.
 */
import { MqttProtocolError, encodeConnect, encodeDisconnect, encodePingreq, encodePuback, publishPacketLength } from "./codec.js";
import { InFlightWindow, NOT_IN_FLIGHT } from "./in-flight.js";
import { MAX_INCOMING_PACKET_BYTES, MqttPacketReader, type MqttPacketHandler } from "./reader.js";
import { LAST_PUBLISH_ID, Subscriptions } from "./subscriptions.js";
import {
  DEFAULT_KEEP_ALIVE_SECONDS, MAX_IN_FLIGHT, MAX_OUTGOING_PACKET_BYTES, MAX_PENDING_PUBACKS, backoffDelay, newStats, timings,
  type MqttClientOptions, type MqttClientStats, type TcpSocket, type Timers, type Timings,
} from "./client-options.js";

/** Connect refused return codes, MQTT 3.1.1 table 3.1. */
const REFUSALS = ["", "unacceptable protocol version", "identifier rejected", "server unavailable", "bad user name or password", "not authorized"];

export * from "./client-options.js";

type State = "connecting" | "connected" | "waiting" | "closed";

export class MqttClient {
  readonly #o: MqttClientOptions;
  readonly #timers: Timers;
  readonly #connect: Uint8Array;
  readonly #control = new Uint8Array(4);
  readonly #window: InFlightWindow;
  readonly #reader: MqttPacketReader;
  readonly #pubacks = new Uint16Array(MAX_PENDING_PUBACKS);
  readonly #t: Timings;
  readonly #stats: MqttClientStats = newStats();
  readonly #subscriptions: Subscriptions;
  #state: State = "connecting";
  #socket: TcpSocket | undefined;
  /** Bumped per socket, so callbacks from a socket already given up are ignored. */
  #generation = 0;
  #timer: unknown;
  #writable = 0;
  #connectSent = false;
  #lastSent = 0;
  #pingPending = false;
  #pingSentAt = -1;
  #pubackCount = 0;
  #failures = 0;
  readonly #onTimer = (): void => this.#timerFired();
  readonly #handler: MqttPacketHandler = {
    connack: (sessionPresent, code) => this.#connack(sessionPresent, code),
    puback: (id) => this.#puback(id),
    pingresp: () => this.#accept("PINGRESP"),
    suback: (id, granted) => this.#suback(id, granted),
    publish: (topic, payload, qos, id, _dup, retain) => this.#incoming(topic, payload, qos, id, retain),
  };

  /** Validates the options (RangeError names the bad one) and starts connecting. */
  constructor(options: MqttClientOptions) {
    this.#o = options;
    this.#timers = options.timers;
    const scratch = new Uint8Array(MAX_OUTGOING_PACKET_BYTES);
    const length = encodeConnect(scratch, {
      clientId: options.clientId,
      cleanSession: options.cleanSession ?? false,
      keepAliveSeconds: options.keepAliveSeconds ?? DEFAULT_KEEP_ALIVE_SECONDS,
      username: options.username,
      password: options.password,
    });
    this.#connect = scratch.slice(0, length); // encoded once: it never changes
    this.#t = timings(options);
    this.#window = new InFlightWindow(options.maxInFlight ?? MAX_IN_FLIGHT, options.maxPacketBytes ?? MAX_OUTGOING_PACKET_BYTES, LAST_PUBLISH_ID);
    this.#subscriptions = new Subscriptions(options.subscriptions ?? []);
    this.#reader = new MqttPacketReader(this.#handler, options.maxIncomingPacketBytes ?? MAX_INCOMING_PACKET_BYTES);
    this.#open();
  }

  get stats(): Readonly<MqttClientStats> {
    return this.#stats;
  }

  get connected(): boolean {
    return this.#state === "connected";
  }

  /** Messages published and not yet acknowledged. */
  get inFlight(): number {
    return this.#window.size;
  }

  /**
   * Sends `payload` with QoS 1; `token` comes back through onAck. False when
   * not connected or the window is full: nothing was taken, keep the record.
   * Throws RangeError for a bad topic or a packet over maxPacketBytes.
   */
  publish(topic: string, payload: Uint8Array, token?: unknown): boolean {
    try {
      if (!(payload instanceof Uint8Array)) throw new TypeError("payload: must be a Uint8Array");
      const length = publishPacketLength(topic, payload.length, 1);
      if (length > this.#window.slotBytes) throw new RangeError(`publish: packet of ${length} bytes exceeds maxPacketBytes (${this.#window.slotBytes})`);
    } catch (e) {
      this.#stats.rejected++;
      throw e;
    }
    if (this.#state !== "connected" || this.#window.full) return false;
    this.#window.add(topic, payload, token);
    this.#stats.published++;
    this.#flush();
    return true;
  }

  /** Ends for good; returns the tokens still unacknowledged, in publish order. */
  close(): unknown[] {
    if (this.#state === "closed") return [];
    const wasConnected = this.#state === "connected";
    this.#state = "closed";
    if (wasConnected && this.#writable >= 2) {
      try {
        this.#socket?.write(this.#control.subarray(0, encodeDisconnect(this.#control)));
      } catch {
        // the socket is being closed anyway; DISCONNECT is a courtesy [MQTT-3.14.4-1]
      }
    }
    this.#release();
    if (wasConnected) this.#call(this.#o.onDisconnect, "closed by the application");
    return this.#window.drain();
  }

  #open(): void {
    this.#state = "connecting";
    this.#reader.reset();
    this.#writable = 0;
    this.#connectSent = false;
    this.#pingPending = false;
    this.#pingSentAt = -1;
    this.#pubackCount = 0;
    this.#stats.attempts++;
    this.#arm(this.#t.connectTimeoutMs);
    const generation = ++this.#generation;
    const { io, address, port } = this.#o.socket;
    try {
      this.#socket = new io({
        address, port, nodelay: true, format: "buffer",
        onReadable: (count) => { if (generation === this.#generation) this.#readable(count); },
        onWritable: (count) => { if (generation === this.#generation) this.#writableChanged(count); },
        onError: (message) => {
          if (generation === this.#generation) this.#fault(`socket error: ${message ?? "connection lost"}`, "socketErrors");
        },
      });
    } catch (e) {
      this.#fault(`socket error: ${(e as Error).message}`, "socketErrors");
    }
  }

  #writableChanged(count: number): void {
    this.#writable = count;
    if (this.#state === "connecting" && !this.#connectSent && count >= this.#connect.length) {
      // [MQTT-3.1.0-1] CONNECT is the first packet on the connection.
      if (this.#write(this.#connect)) this.#connectSent = true;
    }
    this.#flush();
  }

  #readable(count: number): void {
    const socket = this.#socket as TcpSocket;
    while (count > 0 && this.#socket === socket) {
      let chunk: ArrayBuffer | number | undefined;
      try {
        chunk = socket.read(count);
      } catch (e) {
        this.#fault(`socket read failed: ${(e as Error).message}`, "socketErrors");
        return;
      }
      if (!(chunk instanceof ArrayBuffer) || chunk.byteLength === 0) break;
      count -= chunk.byteLength;
      this.#pingSentAt = -1; // any packet shows the link is alive, not just PINGRESP
      try {
        this.#reader.feed(new Uint8Array(chunk));
      } catch (e) {
        if (!(e instanceof MqttProtocolError)) throw e;
        this.#fault(e.message, "protocolErrors");
        return;
      }
    }
    this.#flush();
  }

  /**
   * [MQTT-3.2.0-1] The broker's first packet is CONNACK. False when the rest of
   * a chunk arrives after the connection was given up (or closed from a callback).
   */
  #accept(name: string): boolean {
    if (this.#state === "connecting") throw new MqttProtocolError("order", `${name} before CONNACK [MQTT-3.2.0-1]`);
    return this.#state === "connected";
  }

  #connack(sessionPresent: boolean, code: number): void {
    if (this.#state === "waiting" || this.#state === "closed") return;
    if (this.#state !== "connecting") throw new MqttProtocolError("order", "second CONNACK on one connection [MQTT-3.2.0-1]");
    if (code !== 0) {
      this.#stats.refused++;
      this.#fault(`connection refused: ${REFUSALS[code] ?? "unknown return code"} (${code})`);
      return;
    }
    this.#state = "connected";
    this.#failures = 0;
    if (this.#stats.connects++ > 0) this.#stats.reconnects++;
    if (this.#t.keepAliveMs > 0) this.#arm(this.#t.keepAliveMs);
    else this.#disarm();
    this.#window.rewind(sessionPresent);
    this.#subscriptions.rewind();
    this.#flush(); // re-sends go out before anything published from onConnect
    this.#call(this.#o.onConnect, sessionPresent);
  }

  #puback(id: number): void {
    if (!this.#accept("PUBACK")) return;
    const token = this.#window.ack(id);
    if (token === NOT_IN_FLIGHT) {
      this.#stats.unknownAcks++;
      return;
    }
    this.#stats.acked++;
    this.#call(this.#o.onAck, token);
  }

  #suback(id: number, granted: Uint8Array): void {
    if (!this.#accept("SUBACK")) return;
    const answer = this.#subscriptions.suback(id, granted);
    if (!answer) {
      this.#stats.unknownAcks++;
      return;
    }
    this.#stats[answer.granted ? "subscribed" : "subscribeRefused"]++;
    this.#call(this.#o.onSubscribe, answer.topic, answer.granted);
  }

  #incoming(topic: string, payload: Uint8Array, qos: 0 | 1, id: number, retain: boolean): void {
    if (!this.#accept("PUBLISH")) return;
    this.#stats.received++;
    if (qos === 1) {
      if (this.#pubackCount === MAX_PENDING_PUBACKS) {
        this.#fault(`receive overrun: more than ${MAX_PENDING_PUBACKS} PUBACKs waiting for the socket`, "overruns");
        return; // unacknowledged, so the broker delivers it again
      }
      this.#pubacks[this.#pubackCount++] = id;
    }
    this.#call(this.#o.onMessage, topic, payload, retain);
  }

  /** Writes what the socket has room for: PUBACKs, SUBSCRIBEs, PINGREQ, then the window in order. */
  #flush(): void {
    while (this.#state === "connected" && this.#pubackCount > 0 && this.#writable >= 4) {
      if (!this.#write(this.#control.subarray(0, encodePuback(this.#control, this.#pubacks[0])))) return;
      this.#pubacks.copyWithin(0, 1, this.#pubackCount--);
    }
    if (this.#state === "connected" && !this.#subscriptions.flush((packet) => packet.length <= this.#writable && this.#write(packet))) return;
    if (this.#state === "connected" && this.#pingPending && this.#writable >= 2) {
      if (!this.#write(this.#control.subarray(0, encodePingreq(this.#control)))) return;
      this.#pingPending = false;
      this.#stats.pingsSent++;
    }
    while (this.#state === "connected") {
      const slot = this.#window.nextToSend();
      if (slot < 0 || this.#window.packetLength(slot) > this.#writable) return;
      if (!this.#write(this.#window.packet(slot))) return;
      this.#stats.sent++;
      if (this.#window.markSent(slot)) this.#stats.resent++;
    }
  }

  #write(bytes: Uint8Array): boolean {
    try {
      (this.#socket as TcpSocket).write(bytes);
    } catch (e) {
      this.#fault(`socket write failed: ${(e as Error).message}`, "socketErrors");
      return false;
    }
    this.#writable -= bytes.length;
    this.#lastSent = this.#o.now();
    return true;
  }

  #timerFired(): void {
    this.#timer = undefined;
    if (this.#state === "waiting") this.#open();
    else if (this.#state === "connecting") this.#fault(`connect timeout: no CONNACK within ${this.#t.connectTimeoutMs} ms`, "connectTimeouts");
    else if (this.#state === "connected") this.#keepAlive();
  }

  /**
   * [MQTT-3.1.2-23] Sends PINGREQ when nothing else went out for the keep-alive
   * period; an unanswered one means the link is dead (section 3.1.2.10), the
   * client's side of the broker's own rule [MQTT-3.1.2-24].
   */
  #keepAlive(): void {
    const now = this.#o.now();
    if (this.#pingSentAt >= 0) {
      const waited = now - this.#pingSentAt;
      if (waited >= this.#t.pingTimeoutMs) this.#fault(`keep-alive: no answer to PINGREQ within ${this.#t.pingTimeoutMs} ms`, "pingTimeouts");
      else this.#arm(this.#t.pingTimeoutMs - waited);
      return;
    }
    const idle = now - this.#lastSent;
    if (idle < this.#t.keepAliveMs) {
      this.#arm(this.#t.keepAliveMs - idle);
      return;
    }
    this.#pingPending = true;
    this.#pingSentAt = now;
    this.#flush();
    if (this.#state === "connected") this.#arm(this.#t.pingTimeoutMs);
  }

  /** Reports a fault and, unless closed, drops the connection and schedules the next attempt. */
  #fault(message: string, counter?: keyof MqttClientStats): void {
    if (counter) this.#stats[counter]++;
    if (this.#state === "closed" || this.#state === "waiting") return;
    const wasConnected = this.#state === "connected";
    this.#state = "waiting";
    this.#release();
    this.#call(this.#o.onError, message);
    if (wasConnected) this.#call(this.#o.onDisconnect, message);
    if (this.#state !== "waiting") return; // closed from a callback
    const random = this.#o.random ? this.#o.random() : Math.random();
    this.#arm(backoffDelay(this.#failures++, this.#t.reconnectMinMs, this.#t.reconnectMaxMs, random));
  }

  #release(): void {
    this.#disarm();
    this.#generation++;
    const socket = this.#socket;
    this.#socket = undefined;
    try {
      socket?.close();
    } catch {
      // already failed; closing is only to free it
    }
  }

  #arm(ms: number): void {
    this.#disarm();
    this.#timer = this.#timers.set(this.#onTimer, ms);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#timers.clear(this.#timer);
    this.#timer = undefined;
  }

  /** Application callbacks cannot break the client; a throw is counted and reported. */
  #call(fn: Function | undefined, a?: unknown, b?: unknown, c?: unknown): void {
    if (!fn) return;
    try {
      fn.call(this.#o, a, b, c);
    } catch (e) {
      this.#stats.callbackErrors++;
      if (fn !== this.#o.onError) this.#call(this.#o.onError, `callback threw: ${(e as Error)?.message ?? String(e)}`);
    }
  }
}
