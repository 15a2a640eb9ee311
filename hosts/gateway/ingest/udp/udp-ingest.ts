/*
 * The UDP listener: one datagram, one observation (or one of our records),
 * as the Akka Edge sample's devices send them. The decisions live in
 * datagram.ts, postcard-observation.ts, source-limit.ts and hosts/log/log-throttle.ts;
 * this file owns the socket and applies them.
 *
 * UDP has no acknowledgement, so there is no promise to keep and no
 * backpressure to apply: a flood is cut per source address before it costs
 * a decode or a commit. Refused datagrams are quarantined like refused MQTT
 * payloads (client id "udp:<address>:<port>", topic "udp"); datagrams over
 * the source limit are only counted (quarantining a flood would let it fill
 * the disk). Refusal log lines are throttled per source address.
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { performance } from "node:perf_hooks";
import type { Logger } from "../../../log/logger.js";
import { REFUSAL_REASONS, uplinkTopic, type Ingest, type IngestOutcome, type RefusalReason } from "../ingest.js";
import type { ObservationStore } from "../../store/observation-store.js";
import type { SensorRegistry } from "../sensor-registry.js";
import { classifyDatagram, type DatagramRefusal, type DatagramRefusalReason } from "./datagram.js";
import { LogThrottle } from "../../../log/log-throttle.js";
import { GatewaySequence, postcardObservation } from "./postcard-observation.js";
import type { TemperatureUpdated } from "./postcard.js";
import { DEFAULT_SOURCE_LIMIT, SourceLimit, type SourceLimitOptions } from "./source-limit.js";

/** One refusal line per source address per 10 s: a misbehaving sender stays visible without drowning the rest. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

export type UdpRefusalReason = DatagramRefusalReason | RefusalReason;

const UDP_REFUSAL_REASONS: readonly UdpRefusalReason[] = [...new Set<UdpRefusalReason>(["malformed", "too-large", "unregistered", ...REFUSAL_REASONS])];

type Refusal = Omit<DatagramRefusal, "reason"> & { reason: UdpRefusalReason };

export interface UdpCounters {
  /** Every datagram received, limited ones included. */
  datagrams: number;
  /** Observations stored (a batch record counts each of its observations). */
  stored: number;
  /** Observations already stored (a CBOR record sent twice). */
  duplicate: number;
  /** Clock-anchor records handled. */
  anchors: number;
  refused: number;
  refusedByReason: Record<UdpRefusalReason, number>;
  /** Datagrams dropped because their source address was over its limit. */
  perSourceLimited: number;
  /** Datagrams the store could not commit: lost, since UDP cannot ask for them again. */
  failed: number;
}

export interface UdpIngestOptions {
  host: string;
  /** 0 picks an ephemeral port (see UdpIngest.port). */
  port: number;
  ingest: Ingest;
  store: ObservationStore;
  registry: SensorRegistry;
  logger: Logger;
  /** Receive times (the gateway's clock). */
  now: () => number;
  /** Per-source-address allowance; DEFAULT_SOURCE_LIMIT by default. */
  sourceLimit?: SourceLimitOptions;
  /** Called with how many observations were just stored (for the outbox's depth, and to wake the relay). */
  onStored?: (count: number) => void;
}

export interface UdpIngest {
  readonly host: string;
  readonly port: number;
  counters(): UdpCounters;
  /** Closes the socket; datagrams in the kernel's buffer are not read. Idempotent. */
  close(): Promise<void>;
}

export async function startUdpIngest(options: UdpIngestOptions): Promise<UdpIngest> {
  const { ingest, store, registry, logger: log, now } = options;
  const limit = new SourceLimit(options.sourceLimit ?? DEFAULT_SOURCE_LIMIT);
  const refusalLog = new LogThrottle(REFUSAL_LOG_INTERVAL_MS);
  const limitLog = new LogThrottle(REFUSAL_LOG_INTERVAL_MS);
  const sequence = new GatewaySequence((sensorId) => store.highestSeq(sensorId));
  // Rate limits measure intervals, so they use a clock that NTP cannot step.
  const monotonic = () => performance.now();
  const counters: UdpCounters = {
    datagrams: 0,
    stored: 0,
    duplicate: 0,
    anchors: 0,
    refused: 0,
    refusedByReason: Object.fromEntries(UDP_REFUSAL_REASONS.map((r) => [r, 0])) as Record<UdpRefusalReason, number>,
    perSourceLimited: 0,
    failed: 0,
  };

  function onDatagram(bytes: Buffer, from: RemoteInfo): void {
    counters.datagrams++;
    const receivedAt = now();
    const clientId = `udp:${from.address}:${from.port}`;
    if (!limit.take(from.address, monotonic())) {
      counters.perSourceLimited++;
      const line = limitLog.note(from.address, monotonic());
      if (line.log) log.warn(`UDP source ${from.address} is over its limit; dropping its datagrams`, { clientId, heldBack: line.suppressed });
      return;
    }
    try {
      const decision = classifyDatagram(bytes, (sensorId) => registry.isRegistered(sensorId));
      if (decision.kind === "refused") return refuse(decision, bytes, clientId, from.address, receivedAt);
      if (decision.kind === "postcard") {
        const refusal = storePostcard(decision.sensorId, decision.message, clientId, receivedAt);
        return refusal && refuse(refusal, bytes, clientId, from.address, receivedAt);
      }
      count(ingestRecord(decision.sensorId, bytes, clientId));
    } catch (e) {
      counters.failed++;
      log.error("could not store a UDP datagram; it is lost", { clientId, bytes: bytes.byteLength, error: e });
    }
  }

  // The one place a record enters ingest: swapping in a queued `submit` changes only this call.
  function ingestRecord(sensorId: string, payload: Uint8Array, clientId: string): IngestOutcome {
    return ingest.handle({ topic: uplinkTopic(sensorId), payload, clientId });
  }

  function count(outcome: IngestOutcome): void {
    switch (outcome.kind) {
      case "stored":
        counters.stored++;
        return options.onStored?.(1);
      case "batch":
        counters.stored += outcome.stored;
        counters.duplicate += outcome.duplicate;
        counters.refused += outcome.conflicts;
        counters.refusedByReason["seq-conflict"] += outcome.conflicts;
        if (outcome.stored > 0) options.onStored?.(outcome.stored);
        return;
      case "duplicate":
        counters.duplicate++;
        return;
      case "anchor":
        counters.anchors++;
        return;
      case "refused":
        // Ingest has quarantined and logged it.
        counters.refused++;
        counters.refusedByReason[outcome.reason]++;
        return;
      case "failed":
        // Ingest has logged it.
        counters.failed++;
        return;
    }
  }

  /** Stores the message under the sensor's next seq; a refusal only if that seq keeps being taken. */
  function storePostcard(sensorId: string, message: TemperatureUpdated, clientId: string, receivedAt: number): Refusal | undefined {
    // A second try only if a CBOR record from the same sensor id took the seq meanwhile.
    for (let attempt = 0; attempt < 2; attempt++) {
      const observation = postcardObservation(sensorId, sequence.next(sensorId), message.temperature, receivedAt);
      const appended = store.append(observation, receivedAt);
      if (appended !== "conflict") {
        counters[appended]++;
        log.debug("postcard observation stored", { clientId, sensorId, seq: observation.seq, temperature: message.temperature });
        if (appended === "stored") options.onStored?.(1);
        return undefined;
      }
      sequence.forget(sensorId);
    }
    return { kind: "refused", reason: "seq-conflict", field: "seq", detail: `sensor "${sensorId}": the seq after its highest stored one is taken` };
  }

  function refuse(refusal: Refusal, bytes: Uint8Array, clientId: string, address: string, receivedAt: number): void {
    const quarantineId = store.quarantine({
      receivedAt, clientId, topic: "udp", reason: refusal.reason, field: refusal.field, detail: refusal.detail, payload: bytes,
    });
    counters.refused++;
    counters.refusedByReason[refusal.reason]++;
    const line = refusalLog.note(address, monotonic());
    if (line.log) {
      log.warn(`refused UDP datagram from ${clientId.slice(4)}: ${refusal.reason} (${refusal.field}): ${refusal.detail}`, {
        clientId, reason: refusal.reason, field: refusal.field, bytes: bytes.byteLength, quarantineId, heldBack: line.suppressed,
      });
    }
  }

  const socket: Socket = createSocket({ type: options.host.includes(":") ? "udp6" : "udp4" });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(options.port, options.host, () => {
        socket.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    // Depending on where bind failed the socket may already be closed; either way it is done.
    try {
      socket.close();
    } catch {}
    throw e;
  }
  socket.on("error", (error) => log.error("udp socket error", { error }));
  socket.on("message", onDatagram);
  const port = socket.address().port;
  log.info(`udp listening on ${options.host}:${port}`, { host: options.host, port });

  let closing: Promise<void> | undefined;
  return {
    host: options.host,
    port,
    counters: () => ({ ...counters, refusedByReason: { ...counters.refusedByReason } }),
    close: () => (closing ??= new Promise<void>((resolve) => socket.close(() => resolve()))),
  };
}
