/*
 * What the durable-ingest targets ask of the gateway on this machine,
 * worked out from the baselines' own runs, beside what the gateway's parts
 * cost when measured alone in the same run:
 *
 * - CPU per observation no more than mosquitto's (ratio ≤ 1.0): the
 *   gateway's MQTT listener alone (no store) costs L µs per observation,
 *   so the durable work (decode, commit, relay) may cost at most M − L,
 *   where M is mosquitto's. Beside it: the durable path measured alone
 *   (bench/gateway/durable-path.ts) and a floor no row-per-observation
 *   store can go below (bench/gateway/store-floor.ts).
 * - 0.8 of bare aedes's rate: the load generator and the server share the
 *   machine's cores. Aedes acknowledged r observations a second while the
 *   generator spent g µs of CPU on each; for the gateway to reach 0.8 r the
 *   generator still needs g, so the gateway may spend at most
 *   cores / (0.8 r) − g µs per observation on all its threads together.
 */
import type { IngestFigure } from "./gateway-figures.js";

export const TARGET_RATE_RATIO = 0.8;
export const TARGET_CPU_RATIO = 1.0;

export interface IngestBudget {
  devices: number;
  /** mosquitto's CPU per observation (NaN when it was not measured), µs. */
  mosquittoUs: number;
  /** The gateway's, all threads, µs. */
  gatewayUs: number;
  /** The gateway's MQTT listener alone, with nothing stored, µs. */
  listenerUs: number;
  /** What ratio ≤ 1.0 leaves the durable work once the listener is paid: mosquitto's less the listener's, µs. */
  durableAllowedUs: number;
  /** The gateway's CPU per observation at 0.8 of aedes's rate, all threads, µs. */
  rateBudgetUs: number;
  /** The generator's CPU per observation in aedes's runs, µs. */
  generatorUs: number;
}

export function ingestBudget(figure: IngestFigure, cores: number): IngestBudget {
  const mosquittoUs = figure.kinds.mosquitto?.cpuUs ?? NaN;
  const listenerUs = figure.kinds.listener?.cpuUs ?? NaN;
  const aedes = figure.kinds.aedes;
  const rate = aedes?.ackedPerSecond ?? NaN;
  const generatorUs = ((aedes?.generatorCpu ?? NaN) * 1e6) / rate;
  return {
    devices: figure.devices,
    mosquittoUs,
    gatewayUs: figure.kinds.gateway?.cpuUs ?? NaN,
    listenerUs,
    durableAllowedUs: mosquittoUs - listenerUs,
    rateBudgetUs: (cores * 1e6) / (TARGET_RATE_RATIO * rate) - generatorUs,
    generatorUs,
  };
}
