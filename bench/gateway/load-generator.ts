/*
 * The devices of the gateway benchmark, in a process of their own (forked by
 * gateway-figures.ts) so that they do not share a CPU with the server they
 * load. Each device is one MQTT 3.1.1 connection publishing observation
 * records at QoS 1 on its own topic, as a board would.
 *
 * Two modes:
 * - "throughput": every device keeps `window` publishes unacknowledged, as
 *   many as the server will take; counts PUBACKs in the measuring interval.
 * - "rate": the devices together publish `rate` observations a second,
 *   spread evenly; each observation's uptimeMs is its publish time
 *   (Date.now()), so the gateway can tell each one's latency when the cloud
 *   acknowledges it (the two processes share this machine's clock).
 *
 * Packets are written by hand (a publish is a fixed header, topic, message
 * id and payload) so the generator spends its time on the wire, not in a
 * packet library: the figures must measure the server, not the load.
 */
import mqtt, { type Packet } from "mqtt-packet";
import { connect, type Socket } from "node:net";
import { encodeObservation } from "../../modules/observation/record.js";

export interface LoadPlan {
  port: number;
  devices: number;
  mode: "throughput" | "rate";
  /** Unacknowledged publishes per device (throughput mode), or the cap on them (rate mode). */
  window: number;
  /** Observations a second from all devices together (rate mode). */
  rate?: number;
  warmupMs: number;
  measureMs: number;
  /** Sensor ids are `${prefix}-${n}`; MQTT username the same, password `secret`. */
  prefix: string;
  secret?: string;
  /** First seq of every device, so repeated runs on one store do not collide. */
  firstSeq: number;
}

export interface LoadResult {
  devices: number;
  /** PUBACKs received while measuring. */
  acked: number;
  published: number;
  measuredMs: number;
  ackedPerSecond: number;
  /** Publishes a rate-mode schedule wanted but a full window prevented. */
  skipped: number;
  /** The generator's own CPU use while measuring, in CPU-seconds per second (1.0 = one core saturated). */
  generatorCpu: number;
  refusedConnections: number;
  /** PUBACK latency (ms from publish to PUBACK) while measuring: median and 99th percentile. */
  pubackP50: number;
  pubackP99: number;
  /** Wall-clock bounds of the measuring interval (ms since the epoch). */
  measureFrom: number;
  measureTo: number;
}

/** Bounds a run that goes wrong: no connection may take longer to be accepted. */
const CONNECT_TIMEOUT_MS = 30_000;
/** PUBACK latencies kept for percentiles; enough for a 10 s run at 10,000 a second. */
const MAX_LATENCY_SAMPLES = 200_000;
/** Devices connect in groups so 1,000 of them do not overflow the listen backlog. */
const CONNECT_GROUP = 100;

function publishPacket(topic: Buffer, messageId: number, payload: Uint8Array): Buffer {
  const remaining = 2 + topic.length + 2 + payload.length;
  const lengthBytes: number[] = [];
  let n = remaining;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    lengthBytes.push(byte);
  } while (n > 0);
  const out = Buffer.allocUnsafe(1 + lengthBytes.length + remaining);
  let at = 0;
  out[at++] = 0x32; // PUBLISH, QoS 1
  for (const b of lengthBytes) out[at++] = b;
  out.writeUInt16BE(topic.length, at);
  at += 2;
  topic.copy(out, at);
  at += topic.length;
  out.writeUInt16BE(messageId, at);
  at += 2;
  out.set(payload, at);
  return out;
}

class Device {
  readonly sensorId: string;
  readonly #topic: Buffer;
  readonly #socket: Socket;
  #seq: number;
  #nextId = 1;
  readonly #sentAt = new Float64Array(65_536);
  inFlight = 0;
  published = 0;
  acked = 0;
  onAck: (latencyMs: number) => void = () => {};

  constructor(socket: Socket, sensorId: string, firstSeq: number) {
    this.sensorId = sensorId;
    this.#socket = socket;
    this.#topic = Buffer.from(`xsedge/v1/${sensorId}/up`);
    this.#seq = firstSeq;
  }

  publish(): void {
    const payload = encodeObservation({
      sensorId: this.sensorId,
      seq: this.#seq++,
      boot: 1,
      uptimeMs: Date.now(),
      readings: [{ quantity: "temperature", value: 21.5 }],
    });
    const id = this.#nextId;
    this.#nextId = id === 65_535 ? 1 : id + 1;
    this.#sentAt[id] = performance.now();
    this.inFlight++;
    this.published++;
    this.#socket.write(publishPacket(this.#topic, id, payload));
  }

  puback(messageId: number): void {
    this.inFlight--;
    this.acked++;
    this.onAck(performance.now() - this.#sentAt[messageId]);
  }

  close(): void {
    this.#socket.destroy();
  }
}

async function connectDevice(plan: LoadPlan, n: number): Promise<Device | undefined> {
  const sensorId = `${plan.prefix}-${n}`;
  const socket = connect(plan.port, "127.0.0.1");
  socket.setNoDelay(true);
  const parser = mqtt.parser({ protocolVersion: 4 });
  let device: Device | undefined;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${sensorId}: no CONNACK within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    parser.on("packet", (packet: Packet) => {
      if (packet.cmd === "connack") {
        clearTimeout(timer);
        if (packet.returnCode !== 0) {
          socket.destroy();
          return resolve(undefined);
        }
        device = new Device(socket, sensorId, plan.firstSeq);
        resolve(device);
      } else if (packet.cmd === "puback") device?.puback(packet.messageId ?? 0);
    });
    socket.on("data", (chunk) => parser.parse(chunk));
    socket.once("error", (error) => {
      clearTimeout(timer);
      if (!device) reject(error);
    });
    socket.once("connect", () => {
      const login = plan.secret ? { username: sensorId, password: Buffer.from(plan.secret) } : {};
      socket.write(mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId: sensorId, keepalive: 0, ...login }));
    });
  });
}

/** The q-quantile (nearest rank) of `values`; NaN when empty. Sorts `values`. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  values.sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.max(0, Math.ceil(q * values.length) - 1))];
}

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const devices: Device[] = [];
  let refusedConnections = 0;
  for (let first = 1; first <= plan.devices; first += CONNECT_GROUP) {
    const group = Array.from({ length: Math.min(CONNECT_GROUP, plan.devices - first + 1) }, (_, i) => connectDevice(plan, first + i));
    for (const device of await Promise.all(group)) {
      if (device) devices.push(device);
      else refusedConnections++;
    }
  }
  if (devices.length === 0) throw new Error("the server refused every device");

  let measuring = false;
  let ackedWhileMeasuring = 0;
  let skipped = 0;
  const stop = { now: false };
  const latencies: number[] = [];
  for (const device of devices) {
    device.onAck = (latencyMs) => {
      if (measuring) {
        ackedWhileMeasuring++;
        if (latencies.length < MAX_LATENCY_SAMPLES) latencies.push(latencyMs);
      }
      if (plan.mode === "throughput" && !stop.now) device.publish();
    };
  }

  let ticker: ReturnType<typeof setInterval> | undefined;
  const started = Date.now();
  if (plan.mode === "throughput") {
    for (const device of devices) for (let i = 0; i < plan.window; i++) device.publish();
  } else {
    const rate = plan.rate ?? 1000;
    let sent = 0;
    let next = 0;
    ticker = setInterval(() => {
      const due = Math.floor(((Date.now() - started) * rate) / 1000) - sent;
      for (let i = 0; i < due; i++) {
        const device = devices[next];
        next = (next + 1) % devices.length;
        if (device.inFlight >= plan.window) skipped++;
        else device.publish();
        sent++;
      }
    }, 5);
  }

  await new Promise((resolve) => setTimeout(resolve, plan.warmupMs));
  const cpuBefore = process.cpuUsage();
  const measureStart = performance.now();
  const publishedBefore = devices.reduce((sum, d) => sum + d.published, 0);
  const skippedBefore = skipped;
  const measureFrom = Date.now();
  measuring = true;
  process.send?.({ measuring: true });
  await new Promise((resolve) => setTimeout(resolve, plan.measureMs));
  measuring = false;
  process.send?.({ measured: true });
  const measureTo = Date.now();
  const measuredMs = performance.now() - measureStart;
  const cpu = process.cpuUsage(cpuBefore);
  const published = devices.reduce((sum, d) => sum + d.published, 0) - publishedBefore;
  stop.now = true;
  clearInterval(ticker);
  // Let the last publishes be acknowledged so the server is quiet before its next run.
  const drainUntil = Date.now() + 10_000;
  while (devices.some((d) => d.inFlight > 0) && Date.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 20));
  for (const device of devices) device.close();
  return {
    devices: devices.length,
    acked: ackedWhileMeasuring,
    published,
    measuredMs,
    ackedPerSecond: (ackedWhileMeasuring * 1000) / measuredMs,
    skipped: skipped - skippedBefore,
    generatorCpu: (cpu.user + cpu.system) / 1000 / measuredMs,
    refusedConnections,
    pubackP50: percentile(latencies, 0.5),
    pubackP99: percentile(latencies, 0.99),
    measureFrom,
    measureTo,
  };
}

// Forked by gateway-figures.ts: one plan in, one result out.
if (process.send) {
  process.once("message", (plan: LoadPlan) => {
    runLoad(plan).then(
      (result) => process.send?.({ result }, () => process.exit(0)),
      (error: Error) => process.send?.({ error: error.message }, () => process.exit(1)),
    );
  });
}
