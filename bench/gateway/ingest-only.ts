/*
 * The durable-ingest figures alone, for working on them without the whole
 * `npm run bench` (which runs them too, and writes bench/RESULTS.md):
 *
 *   node dist/bench/gateway/ingest-only.js [devices ...] [--rounds N] [--only kind,kind]
 *
 * Same servers, load and measurement as bench/run.ts (kinds: mosquitto,
 * aedes, gateway, listener). Children inherit this process's Node flags,
 * so `node --cpu-prof --cpu-prof-dir=DIR ...` profiles each server and the
 * generator in a file of its own.
 */
import { DEVICE_COUNTS, INGEST_KINDS, ingestFigures, ROUNDS, type IngestKind } from "../gateway-figures.js";

const args = process.argv.slice(2);
const option = (name: string) => {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const [, value] = args.splice(at, 2);
  return value;
};
const rounds = Number(option("--rounds") ?? ROUNDS);
const only = (option("--only")?.split(",") ?? INGEST_KINDS) as IngestKind[];
for (const kind of only) if (!INGEST_KINDS.includes(kind)) throw new RangeError(`--only takes ${INGEST_KINDS.join(", ")}; got ${kind}`);
const counts = args.map(Number);
for (const n of counts) if (!Number.isInteger(n) || n < 1) throw new RangeError(`device counts must be positive integers, got ${n}`);
for (const f of await ingestFigures(counts.length > 0 ? counts : DEVICE_COUNTS, rounds, only)) {
  const rate = (n: number) => `${Math.round(n).toLocaleString("en")}/s`;
  const parts = Object.entries(f.kinds).map(([kind, k]) => `${kind} ${k!.cpuUs.toFixed(1)} µs (${rate(k!.ackedPerSecond)}, gen ${k!.generatorCpu.toFixed(2)})`);
  const stats = f.kinds.gateway?.runs.at(-1)?.stats as { outbox?: { commits: number; publishes: number } } | undefined;
  const group = stats?.outbox ? (stats.outbox.publishes / Math.max(1, stats.outbox.commits)).toFixed(1) : "?";
  process.stdout.write(
    `${f.devices} devices, median of ${f.rounds}: ${parts.join("; ")}; gateway / mosquitto CPU ${f.cpuRatioToMosquitto.toFixed(2)}, ` +
      `gateway / aedes rate ${f.rateRatioToAedes.toFixed(2)}; publishes per commit ${group}${f.missing ? ` (${f.missing})` : ""}\n`,
  );
}
