/*
 * The gateway's durable path alone, without MQTT: publishes go straight to
 * the outbox (group commit into SQLite, fsynced before acknowledging) and the relay
 * sends them to a connector that acknowledges at once. What it costs per
 * observation in CPU is the part of the durable-ingest figure that is the
 * gateway's own, free of aedes, sockets and the load generator, and steadier
 * than a throughput figure on a shared machine:
 *
 *   node dist/bench/gateway/durable-path.js [devices] [observations] [--json]
 *
 * With --json it prints one JSON object (bench/run.ts reads it).
 *
 * 999 publishes are kept waiting, the devices taking turns (one fewer than
 * a group's limit, so groups close on the event loop's turn, as under MQTT,
 * not on their size).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ingest } from "../../hosts/gateway/ingest/ingest.js";
import { MAX_GROUP_COMMIT } from "../../hosts/gateway/ingest/queue.js";
import { ObservationStore } from "../../hosts/gateway/store/observation-store.js";
import { Outbox } from "../../hosts/gateway/ingest/outbox.js";
import { Relay } from "../../hosts/gateway/relay/relay.js";
import { createLogger } from "../../hosts/log/logger.js";
import { encodeObservation } from "../../modules/observation/record.js";

const json = process.argv.includes("--json");
const [devicesArg, totalArg] = process.argv.slice(2).filter((a) => a !== "--json");
const devices = Number(devicesArg ?? 1);
const total = Number(totalArg ?? 300_000);
if (!Number.isInteger(devices) || devices < 1 || !Number.isInteger(total) || total < 1) {
  throw new RangeError("usage: durable-path.js [devices] [observations] [--json]");
}
const inFlight = MAX_GROUP_COMMIT - 1;

export interface DurablePathFigure {
  devices: number;
  observations: number;
  perSecond: number;
  /** CPU (user + system) per observation, µs. */
  cpuUs: number;
  relayed: number;
  backlog: number;
}

const dir = mkdtempSync(join(tmpdir(), "xsedge-durable-path-"));
const logger = createLogger({ component: "durable-path", level: "error" });
const store = ObservationStore.open(dir);
const ingest = new Ingest({ store, logger });
const relay: Relay = new Relay({
  store,
  logger,
  onRelayed: () => outbox.relayed(),
  connector: { name: "ack", send: async (batch) => ({ acked: batch.map(({ sensorId, seq }) => ({ sensorId, seq })) }), close: async () => {} },
});
const outbox = new Outbox({ store, ingest, logger, rateLimitPerSecond: Infinity, onStored: () => relay.wake() });
relay.start();

// Encoded beforehand, so the figure is the gateway's work, not the devices'.
const payloads = Array.from({ length: total }, (_, i) => {
  const sensorId = `path-${i % devices}`;
  // A Buffer, as aedes hands the broker a publish's payload.
  return Buffer.from(encodeObservation({ sensorId, seq: Math.floor(i / devices) + 1, boot: 1, uptimeMs: i, readings: [{ quantity: "temperature", value: 21.5 }] }));
});
let next = 0;
let done = 0;
let finish: () => void = () => {};
const finished = new Promise<void>((resolve) => (finish = resolve));

function publish(): void {
  if (next >= total) return;
  const i = next++;
  const sensorId = `path-${i % devices}`;
  outbox.submit({ topic: `xsedge/v1/${sensorId}/up`, payload: payloads[i], clientId: sensorId, authenticatedAs: sensorId }).then((outcome) => {
    if (outcome.kind !== "stored") throw new Error(`publish ${i}: ${JSON.stringify(outcome)}`);
    if (++done === total) finish();
    else publish();
  });
}

const cpuBefore = process.cpuUsage();
const started = performance.now();
for (let i = 0; i < Math.min(total, inFlight); i++) publish();
await finished;
const cpu = process.cpuUsage(cpuBefore);
const wallMs = performance.now() - started;
await relay.close();
outbox.close();
const { relayed, backlog } = relay.stats();
store.close();
rmSync(dir, { recursive: true, force: true });
const perObservation = (us: number) => `${(us / total).toFixed(2)} µs`;
if (json) {
  const figure: DurablePathFigure = {
    devices,
    observations: total,
    perSecond: (total * 1000) / wallMs,
    cpuUs: (cpu.user + cpu.system) / total,
    relayed,
    backlog,
  };
  process.stdout.write(JSON.stringify(figure) + "\n");
} else process.stdout.write(
  `${devices} devices, ${total} observations: ${Math.round((total * 1000) / wallMs).toLocaleString("en")}/s; ` +
    `CPU per observation ${perObservation(cpu.user + cpu.system)} (user ${perObservation(cpu.user)}, system ${perObservation(cpu.system)}); ` +
    `relayed ${relayed}, backlog ${backlog}\n`,
);
