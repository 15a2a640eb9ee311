/*
 * The durable-ingest figure alone, for working on it without the whole
 * `npm run bench` (which runs it too, and writes bench/RESULTS.md):
 *
 *   node dist/bench/gateway/ingest-only.js [devices ...]
 *
 * Same servers, load and measurement as bench/run.ts. Children inherit
 * this process's Node flags, so `node --cpu-prof --cpu-prof-dir=DIR ...`
 * profiles each server and the generator in a file of its own.
 */
import { DEVICE_COUNTS, ingestFigures } from "../gateway-figures.js";

const counts = process.argv.slice(2).map(Number);
for (const n of counts) if (!Number.isInteger(n) || n < 1) throw new RangeError(`device counts must be positive integers, got ${n}`);
for (const f of await ingestFigures(counts.length > 0 ? counts : DEVICE_COUNTS)) {
  const rate = (n: number) => `${Math.round(n).toLocaleString("en")}/s`;
  const stats = f.gatewayStats as { outbox?: { commits: number; publishes: number } } | undefined;
  const group = stats?.outbox ? (stats.outbox.publishes / Math.max(1, stats.outbox.commits)).toFixed(1) : "?";
  process.stdout.write(
    `${f.devices} devices: aedes ${rate(f.aedes.ackedPerSecond)}, gateway ${rate(f.gateway.ackedPerSecond)}, ratio ${f.ratio.toFixed(2)}; ` +
      `generator CPU ${f.aedes.generatorCpu.toFixed(2)}, ${f.gateway.generatorCpu.toFixed(2)}; ` +
      `server CPU per observation ${f.aedesCpuPerObservation.toFixed(1)} µs, ${f.gatewayCpuPerObservation.toFixed(1)} µs; publishes per commit ${group}\n`,
  );
}
