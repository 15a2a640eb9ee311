/*
 * The gateway's sections of bench/RESULTS.md, from the figures of
 * gateway-figures.ts and the parts measured alone (durable-path.ts,
 * store-floor.ts): durable ingest beside mosquitto and bare aedes, where
 * the gateway's microseconds go and what the targets leave them, and memory
 * (latency to the cloud's acknowledgement is area `latency`). bench/areas/ingest.ts runs
 * `measureGateway` and writes `render`'s lines into RESULTS.md.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { DEVICE_COUNTS, ingestFigures, median, ROUNDS, type IngestFigure } from "./gateway-figures.js";
import type { DurablePathFigure } from "./gateway/durable-path.js";
import { peerProgram } from "../tests/support/peer-programs.js";
import { storeFloor, type StoreFloor } from "./gateway/store-floor.js";
import { ingestBudget, TARGET_CPU_RATIO, TARGET_RATE_RATIO, type IngestBudget } from "./ingest-budget.js";

const DURABLE_PATH = fileURLToPath(new URL("./gateway/durable-path.js", import.meta.url));
/** Observations per durable-path run: a few seconds of work, steady to a few percent. */
const DURABLE_PATH_OBSERVATIONS = 200_000;

/** The gateway's durable path alone, in a process of its own (it runs the store, outbox and relay). */
function durablePath(devices: number): DurablePathFigure {
  const out = execFileSync(process.execPath, [DURABLE_PATH, String(devices), String(DURABLE_PATH_OBSERVATIONS), "--json"], { encoding: "utf8" });
  return JSON.parse(out) as DurablePathFigure;
}

export interface GatewayFigures {
  ingest: IngestFigure[];
  parts: Array<{ budget: IngestBudget; durable: DurablePathFigure; floor: StoreFloor }>;
  versions: Record<string, string>;
}

function versions(): Record<string, string> {
  const packageVersion = (name: string) => {
    try {
      return (JSON.parse(readFileSync(fileURLToPath(new URL(`../../node_modules/${name}/package.json`, import.meta.url)), "utf8")) as { version: string }).version;
    } catch {
      return "?";
    }
  };
  let mosquitto = "not installed";
  try {
    const program = peerProgram("mosquitto");
    mosquitto = /mosquitto version (\S+)/.exec(execFileSync(program, ["-h"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }))?.[1] ?? "?";
  } catch (e) {
    // `mosquitto -h` exits 3 after printing its usage.
    mosquitto = /mosquitto version (\S+)/.exec(String((e as { stdout?: string }).stdout ?? ""))?.[1] ?? mosquitto;
  }
  const db = new Database(":memory:");
  const sqlite = (db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v;
  db.close();
  return { node: process.version, mosquitto, aedes: packageVersion("aedes"), "mqtt-packet": packageVersion("mqtt-packet"), "better-sqlite3": packageVersion("better-sqlite3"), sqlite };
}

const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "—");
const us = (n: number) => `${fixed(n)} µs`;
const perSecond = (n: number) => (Number.isFinite(n) ? `${Math.round(n).toLocaleString("en")}/s` : "—");
const mark = (ok: boolean) => (ok ? "✓" : "✗");

/** Measures every gateway figure, each server in rounds of its own (gateway-figures.ts). */
export async function measureGateway(cores: number, log: (line: string) => void = () => {}): Promise<GatewayFigures> {
  log("durable ingest beside mosquitto, bare aedes and the listener alone (1, 100, 1,000 devices)");
  const ingest = await ingestFigures();
  log("durable path and store floor");
  const parts = ingest.map((f) => ({ budget: ingestBudget(f, cores), durable: durablePath(f.devices), floor: storeFloor(f.devices) }));
  return { ingest, parts, versions: versions() };
}

export function render({ ingest, parts, versions: v }: GatewayFigures, cores: number): string[] {
  const lines: string[] = [];
  const say = (line = "") => lines.push(line);
  const missing = ingest.find((f) => f.missing)?.missing;
  say("## Gateway: durable ingest beside mosquitto and bare aedes");
  say();
  say(`Devices publish observation records at QoS 1 as fast as the server acknowledges them, 1,000 publishes in flight in all (1,000 for one device, 10 each for 100, 1 each for 1,000), from a load generator in its own process; 2 s warm-up, 4 s measured. Each figure is the median of ${ingest[0]?.rounds ?? ROUNDS} rounds; in each round every server runs once (in an order rotating by round), and each ratio is taken within a round. Servers: Debian's mosquitto ${v.mosquitto} with persistence on (saved now and then, not per message: its PUBACK means "in memory"), password logins; bare aedes ${v.aedes} on TCP (in-memory persistence, no hooks); the xsedge gateway, which commits each observation to SQLite ${v.sqlite} before its PUBACK (WAL, group commit, the WAL fsynced on a thread of its own before the group's PUBACKs: FULL's durability without the event loop waiting for the disk) and relays it to a connector that acknowledges at once; and, to show what MQTT alone costs the gateway, its MQTT listener with nothing stored (publishes answered each turn of the event loop, as the group commit answers them). The rate limit and the per-device in-flight limit are raised for these runs (the bench's devices flood on purpose). "CPU per observation" is each server's CPU time (all threads; mosquitto's read from /proc) while measuring, divided by the observations it acknowledged meanwhile: steadier than the rates on a shared machine. "gen." is the load generator's CPU (1.0 = one core: it, not the server, set the pace). Node ${v.node}, mqtt-packet ${v["mqtt-packet"]}, better-sqlite3 ${v["better-sqlite3"]}.`);
  say();
  if (missing) {
    say(`**mosquitto was not measured: ${missing}.** The CPU ratio to mosquitto below is therefore missing; install it and run \`npm run bench\` again.`);
    say();
  }
  say("| devices | mosquitto: CPU per obs. (rate, gen.) | bare aedes | gateway | gateway / mosquitto CPU | target | gateway / aedes rate | target | gateway's listener alone |");
  say("|---|---|---|---|---|---|---|---|---|");
  const cell = (f: IngestFigure, kind: "mosquitto" | "aedes" | "gateway" | "listener") => {
    const k = f.kinds[kind];
    return k ? `${us(k.cpuUs)} (${perSecond(k.ackedPerSecond)}, ${fixed(k.generatorCpu, 2)})` : "—";
  };
  for (const f of ingest) {
    const cpuOk = f.cpuRatioToMosquitto <= TARGET_CPU_RATIO;
    const rateOk = f.rateRatioToAedes >= TARGET_RATE_RATIO;
    say(`| ${f.devices.toLocaleString("en")} | ${cell(f, "mosquitto")} | ${cell(f, "aedes")} | ${cell(f, "gateway")} | **${fixed(f.cpuRatioToMosquitto, 2)}** | ≤ ${TARGET_CPU_RATIO.toFixed(1)} ${Number.isFinite(f.cpuRatioToMosquitto) ? mark(cpuOk) : "—"} | **${fixed(f.rateRatioToAedes, 2)}** | ≥ ${TARGET_RATE_RATIO} ${mark(rateOk)} | ${cell(f, "listener")} |`);
  }
  say();
  const rounds = ingest.map((f) => `${f.devices}: ${f.kinds.gateway?.runs.map((r, i) => fixed(r.cpuUs / (f.kinds.mosquitto?.runs[i]?.cpuUs ?? NaN), 2)).join(", ")}`);
  say(`Gateway / mosquitto CPU in each round (devices: rounds): ${rounds.join("; ")}.`);
  say();
  say("### Where the gateway's microseconds go, and what the targets leave them");
  say();
  say(`Measured in this run, per observation: the gateway's MQTT listener alone (above); its durable path alone (bench/gateway/durable-path.ts: outbox, group commit into the gateway's store, relay to a connector that acknowledges at once; no MQTT, no sockets). Ratio ≤ 1.0 leaves the durable work mosquitto's CPU less the listener's; 0.8 of aedes's rate allows the gateway ${cores} cores / (0.8 × aedes's rate) less what the generator spends per observation (all threads).`);
  say();
  say("| devices | mosquitto | gateway | its listener alone | its durable path alone | ≤ 1.0 leaves the durable work | 0.8 of aedes's rate allows the gateway |");
  say("|---|---|---|---|---|---|---|");
  for (const { budget: b, durable } of parts) {
    say(`| ${b.devices.toLocaleString("en")} | ${us(b.mosquittoUs)} | ${us(b.gatewayUs)} | ${us(b.listenerUs)} | ${us(durable.cpuUs)} | **${us(b.durableAllowedUs)}** | ${us(b.rateBudgetUs)} |`);
  }
  say();
  say(`And in SQLite alone (bench/gateway/store-floor.ts), the same rows in the same order, every variant given each group of 500 in turn: the gateway's store as it is (its schema and statements: a sensor's consecutive rows up to 64 to an INSERT, commit and its fsync, the relay's UPDATE of the acknowledged rows), then without one part at a time, and a floor no row-per-observation store goes below (the UNIQUE (sensor, seq) index dedup needs, nothing else, nothing marked); beside it, decoding and checking one record.`);
  say();
  say("| devices | gateway's store | without the anchors' (sensor, boot) index | without AUTOINCREMENT | a relayed-up-to position instead of marks and unrelayed indexes | floor (that, without AUTOINCREMENT) | decode + check |");
  say("|---|---|---|---|---|---|---|");
  for (const { budget: b, floor } of parts) {
    const s = floor.storeUs;
    say(`| ${b.devices.toLocaleString("en")} | ${us(s.gateway)} | ${us(s["no-anchor-index"])} | ${us(s["no-autoincrement"])} | ${us(s["relay-position"])} | ${us(s.floor)} | ${us(floor.classifyUs)} |`);
  }
  say();
  const short = parts.filter(({ budget }) => !(budget.gatewayUs <= TARGET_CPU_RATIO * budget.mosquittoUs));
  if (short.length === 0 && !missing) say("Ratio ≤ 1.0 is met at every device count in this run.");
  else {
    const each = short.map(({ budget: b, floor: f }) => {
      const s = f.storeUs;
      const saved = (variant: keyof typeof s) => fixed(s.gateway - s[variant]);
      return `with ${b.devices.toLocaleString("en")} device${b.devices === 1 ? "" : "s"} the gateway spends ${us(b.gatewayUs)} against mosquitto's ${us(b.mosquittoUs)}; its listener alone ${us(b.listenerUs)}, leaving ${us(b.durableAllowedUs)} for durable work, of which its store alone takes ${us(s.gateway)} and the floor ${us(s.floor + f.classifyUs)} with decoding; dropping the anchors' index would save ${saved("no-anchor-index")} µs, AUTOINCREMENT ${saved("no-autoincrement")} µs, a relayed-up-to position instead of the per-row mark and the unrelayed rows' indexes ${saved("relay-position")} µs`;
    });
    const listenerVsMosquitto = parts.map(({ budget: b }) => `${b.devices.toLocaleString("en")}: ${fixed(b.listenerUs / b.mosquittoUs, 2)}`).join(", ");
    say(`Why ratio ≤ 1.0 is not met everywhere: ${each.join("; ")}. The listener alone costs ${listenerVsMosquitto} of mosquitto's CPU per observation (devices: ratio): it reads many publishes per read and writes a connection's PUBACKs of a commit in one write where mosquitto reads each packet in pieces and writes each PUBACK alone, but with 1,000 devices of one publish each in flight no batching removes a read and a write per observation, and Node's per-read and per-write work is dearer than C's. The rest is the durable work, most of it SQLite's per row, which grows with the number of devices because each device's rows dirty index pages of their own in every commit. What would reach it here: a store near the floor — a relayed-up-to position instead of an UPDATE per acknowledged row and the indexes of unrelayed rows, clock anchors found through the (sensor, seq) index instead of an index of their own, rowids without AUTOINCREMENT (the table above gives each one's worth in this run) — a change of the store's schema and of what the API reads from it. On a Raspberry Pi the devices are other machines, so the load generator's share is not taken from the gateway.`);
  }
  say();
  const thousand = ingest.find((f) => f.devices === 1000);
  if (thousand) {
    const mib = (bytes: number) => (Number.isFinite(bytes) ? `${fixed(bytes / 1024 / 1024)} MiB` : "—");
    say("## Gateway: resident memory with 1,000 devices");
    say();
    say("Resident set size of each server's process halfway through its 1,000-device ingest runs above (median), all devices connected and publishing. Baselines: mosquitto and bare aedes with the same devices.");
    say();
    say("| mosquitto | bare aedes | gateway | gateway / aedes |");
    say("|---|---|---|---|");
    const rss = (kind: "mosquitto" | "aedes" | "gateway") => thousand.kinds[kind]?.rss ?? NaN;
    say(`| ${mib(rss("mosquitto"))} | ${mib(rss("aedes"))} | **${mib(rss("gateway"))}** | ${fixed(rss("gateway") / rss("aedes"), 2)} |`);
    say();
  }
  return lines;
}

export { DEVICE_COUNTS, median };
