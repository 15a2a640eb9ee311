/*
 * The gateway in virtual time, modelled on what hosts/gateway promises:
 * devices log in with their registered secret; each PUBLISH is decoded
 * (the real record decoder), kept once per (sensor, seq) and acknowledged
 * only after its commit (a report on the device's report topic is
 * acknowledged and counted: the model sends no downlink to answer); above a high-water mark of unrelayed observations
 * acknowledgements are held until the relay drains below the low-water
 * mark; the relay sends the oldest unrelayed in batches to the cloud and
 * marks them only on the cloud's ack, backing off through outages. What was
 * committed survives a restart or a kill; the connections do not.
 *
 * It is a model: the real gateway runs in real-time scenarios
 * (gateway: spawn), against which this model's promises are the ones tested.
 */
import { decodeUplinkRecord } from "../../modules/observation/record-decoder.js";
import type { VirtualDriver } from "../fleet/virtual-driver.js";
import type { VirtualEndpoint, VirtualLink, VirtualNetwork, VirtualSession } from "../network/virtual-network.js";
import type { CloudModel, RelayedObservation } from "./cloud-model.js";
import { MqttSession, type ConnectVerdict } from "./mqtt-session.js";

export interface GatewayModelOptions {
  driver: VirtualDriver;
  network: VirtualNetwork;
  cloud: CloudModel;
  /** Who may log in; everyone when left out. */
  registry?: { verify(sensorId: string, secret: string | undefined): ConnectVerdict };
  /** From a publish's arrival to its PUBACK (the group commit), ms. */
  commitMs?: number;
  relayIntervalMs?: number;
  /** Observations per relayed batch (the gateway's 500). */
  relayBatch?: number;
  /** A batch the cloud has not acknowledged in this long has failed, ms. */
  relayTimeoutMs?: number;
  highWater?: number;
  lowWater?: number;
  /** What happens, for the run's trace. */
  onEvent?: (at: number, event: string, detail: Record<string, unknown>) => void;
}

export interface GatewayModelStats {
  logins: number;
  refusedLogins: number;
  publishes: number;
  stored: number;
  duplicates: number;
  refused: number;
  /** Publishes on the device's report topic (answers to downlinks). */
  reports: number;
  anchors: number;
  heldAcks: number;
  relayed: number;
  relayFailures: number;
  restarts: number;
  takeovers: number;
}

interface Row extends RelayedObservation {
  relayed: boolean;
}

/** The gateway's relay: 500 per batch, every 200 ms when idle, backoff from 500 ms to 10 s. */
const RELAY_BATCH = 500;
const RELAY_INTERVAL_MS = 200;
const RELAY_TIMEOUT_MS = 10_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;
const COMMIT_MS = 5;
const HIGH_WATER = 500_000;

export class GatewayModel implements VirtualEndpoint {
  readonly stats: GatewayModelStats = {
    logins: 0, refusedLogins: 0, publishes: 0, stored: 0, duplicates: 0, refused: 0, reports: 0, anchors: 0, heldAcks: 0, relayed: 0, relayFailures: 0, restarts: 0, takeovers: 0,
  };
  readonly #options: GatewayModelOptions;
  readonly #rows = new Map<string, Row>();
  /** Unrelayed rows, oldest first (rows already relayed are skipped as they reach the head). */
  readonly #unrelayed: Row[] = [];
  #unrelayedCount = 0;
  readonly #sessions = new Set<MqttSession>();
  readonly #held: Array<() => void> = [];
  #up = true;
  /** Bumped by every stop: answers for an earlier life are ignored. */
  #generation = 0;
  #relayInFlight = false;
  #backoffMs = 0;
  #relayAt: number | undefined;

  constructor(options: GatewayModelOptions) {
    this.#options = options;
  }

  get up(): boolean {
    return this.#up;
  }

  /** Observations committed and not yet acknowledged by the cloud. */
  get unrelayed(): number {
    return this.#unrelayedCount;
  }

  get connections(): number {
    return this.#sessions.size;
  }

  /** Has the gateway committed this observation? */
  holds(sensorId: string, seq: number): boolean {
    return this.#rows.has(`${sensorId}\u0000${seq}`);
  }

  accept(link: VirtualLink): VirtualSession | undefined {
    if (!this.#up) return undefined;
    const session = new MqttSession(link, {
      now: () => this.#driver.now(),
      schedule: (at, run) => this.#driver.schedule(at, run),
      verify: (clientId, password) => this.#verify(clientId, password),
      loggedIn: (s) => this.#loggedIn(s),
      publish: (s, topic, payload, ack) => this.#publish(s, topic, payload, ack),
      ended: (s, reason) => {
        this.#sessions.delete(s);
        this.#event("gw.disconnect", { sensorId: s.clientId ?? s.peer, reason });
      },
      protocolError: (s, reason) => this.#event("gw.protocol-error", { sensorId: s.peer, reason }),
    });
    this.#sessions.add(session);
    return session;
  }

  /** The process goes away (SIGKILL, or the stop of a restart): connections reset, nothing committed is lost. */
  stop(how: "kill" | "restart"): void {
    if (!this.#up) return;
    this.#up = false;
    this.#generation++;
    this.stats.restarts++;
    this.#sessions.clear();
    this.#held.length = 0;
    this.#relayInFlight = false;
    this.#options.network.resetEndpoint(this);
    this.#event("gw.down", { how });
  }

  start(): void {
    if (this.#up) return;
    this.#up = true;
    this.#backoffMs = 0;
    this.#event("gw.up", {});
    this.#scheduleRelay(this.#driver.now());
  }

  get #driver(): VirtualDriver {
    return this.#options.driver;
  }

  #verify(clientId: string, password: string | undefined): ConnectVerdict {
    const verdict = this.#options.registry?.verify(clientId, password) ?? "ok";
    if (verdict !== "ok") {
      this.stats.refusedLogins++;
      this.#event("gw.login-refused", { sensorId: clientId, verdict });
    }
    return verdict;
  }

  #loggedIn(session: MqttSession): void {
    this.stats.logins++;
    for (const other of this.#sessions) {
      if (other !== session && other.clientId === session.clientId) {
        this.stats.takeovers++;
        other.close("taken over by a new connection of the same client");
      }
    }
    this.#event("gw.login", { sensorId: session.clientId });
  }

  #publish(session: MqttSession, topic: string, payload: Uint8Array, ack: () => void): void {
    this.stats.publishes++;
    const generation = this.#generation;
    const stored: number[] = [];
    if (topic === `xsedge/v1/${session.clientId}/report`) {
      this.stats.reports++;
      this.#driver.schedule(this.#driver.now() + (this.#options.commitMs ?? COMMIT_MS), () => {
        if (generation === this.#generation && session.open) ack();
      });
      return;
    }
    if (topic !== `xsedge/v1/${session.clientId}/up`) {
      this.stats.refused++;
      this.#event("gw.refused", { sensorId: session.clientId, reason: "topic", topic });
    } else {
      try {
        const record = decodeUplinkRecord(payload);
        if (record.kind === "clock") this.stats.anchors++;
        const observations = record.kind === "observation" ? [record.observation] : record.kind === "batch" ? record.observations : [];
        for (const o of observations) {
          if (o.sensorId !== session.clientId) {
            this.stats.refused++;
            this.#event("gw.refused", { sensorId: session.clientId, reason: "wrong-sensor" });
            continue;
          }
          const key = `${o.sensorId}\u0000${o.seq}`;
          if (this.#rows.has(key)) {
            this.stats.duplicates++;
            continue;
          }
          const row: Row = { sensorId: o.sensorId, seq: o.seq, boot: o.boot, readings: Object.fromEntries(o.readings.map((r) => [r.quantity, r.value])), relayed: false };
          this.#rows.set(key, row);
          this.#unrelayed.push(row);
          this.#unrelayedCount++;
          this.stats.stored++;
          stored.push(o.seq);
        }
      } catch (error) {
        // Refused and acknowledged, as the gateway does, so the device does not resend it forever.
        this.stats.refused++;
        this.#event("gw.refused", { sensorId: session.clientId, reason: (error as Error).message });
      }
    }
    if (stored.length > 0) this.#event("gw.store", { sensorId: session.clientId, seqs: stored });
    this.#scheduleRelay(this.#driver.now());
    // Acknowledged once committed, by the same life of the gateway; held while the outbox is too deep.
    this.#driver.schedule(this.#driver.now() + (this.#options.commitMs ?? COMMIT_MS), () => {
      if (generation !== this.#generation || !session.open) return;
      if (this.#unrelayedCount > (this.#options.highWater ?? HIGH_WATER)) {
        this.stats.heldAcks++;
        this.#held.push(ack);
      } else ack();
    });
  }

  #scheduleRelay(at: number): void {
    if (!this.#up || this.#relayInFlight || this.#unrelayedCount === 0) return;
    const when = Math.max(at, this.#driver.now() + this.#backoffMs);
    if (this.#relayAt !== undefined && this.#relayAt <= when) return;
    this.#relayAt = when;
    const generation = this.#generation;
    this.#driver.schedule(when, () => {
      if (this.#relayAt === when) this.#relayAt = undefined;
      if (generation === this.#generation) this.#relay();
    });
  }

  #relay(): void {
    if (!this.#up || this.#relayInFlight) return;
    while (this.#unrelayed.length > 0 && this.#unrelayed[0].relayed) this.#unrelayed.shift();
    const batch = this.#unrelayed.slice(0, this.#options.relayBatch ?? RELAY_BATCH).filter((row) => !row.relayed);
    if (batch.length === 0) return;
    this.#relayInFlight = true;
    const generation = this.#generation;
    this.#options.cloud.send(batch.map(({ sensorId, seq, boot, readings }) => ({ sensorId, seq, boot, readings })), this.#options.relayTimeoutMs ?? RELAY_TIMEOUT_MS, (acked) => {
      if (generation !== this.#generation) return;
      this.#relayInFlight = false;
      if (acked) {
        for (const row of batch) {
          if (row.relayed) continue;
          row.relayed = true;
          this.#unrelayedCount--;
          this.stats.relayed++;
        }
        this.#backoffMs = 0;
        this.#release();
        this.#scheduleRelay(this.#driver.now());
      } else {
        this.stats.relayFailures++;
        this.#backoffMs = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, this.#backoffMs * 2));
        this.#event("gw.relay-failed", { backoffMs: this.#backoffMs, unrelayed: this.#unrelayedCount });
        this.#scheduleRelay(this.#driver.now());
      }
    });
    // Keep relaying at the gateway's pace while there is more.
    this.#driver.schedule(this.#driver.now() + (this.#options.relayIntervalMs ?? RELAY_INTERVAL_MS), () => this.#scheduleRelay(this.#driver.now()));
  }

  /** Held acknowledgements go once the outbox is below the low-water mark. */
  #release(): void {
    const high = this.#options.highWater ?? HIGH_WATER;
    const low = this.#options.lowWater ?? Math.max(1, Math.floor(high * 0.9));
    if (this.#unrelayedCount >= low) return;
    for (const ack of this.#held.splice(0)) ack();
  }

  #event(event: string, detail: Record<string, unknown>): void {
    this.#options.onEvent?.(this.#driver.now(), event, detail);
  }
}
