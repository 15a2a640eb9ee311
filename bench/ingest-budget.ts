/*
 * What a durable-ingest ratio of 0.8 asks of the gateway on this machine,
 * worked out from the baseline's own run, beside what the gateway's durable
 * path and a minimal store (bench/gateway/store-floor.ts) cost.
 *
 * The load generator and the server share the machine's cores. Bare aedes
 * acknowledged `r` observations a second while the generator spent `g` µs
 * of CPU on each; for the gateway to reach 0.8 r, the generator still needs
 * g per observation, so the gateway may spend at most cores / (0.8 r) − g µs
 * per observation on all its threads together, and — on the one thread that
 * runs aedes — at most 1 / (0.8 r) µs, aedes's own work included.
 */
import type { IngestFigure } from "./gateway-figures.js";

export const TARGET_RATIO = 0.8;

export interface IngestBudget {
  devices: number;
  /** The generator's CPU per observation in the baseline run, µs. */
  generatorUs: number;
  /** Bare aedes's CPU per observation, µs. */
  aedesUs: number;
  /** The gateway's CPU per observation at 0.8 of aedes's rate, all threads, µs. */
  gatewayUs: number;
  /** What that leaves for durable work once aedes's own work is paid, µs. */
  durableUs: number;
  /** Of it, what fits on aedes's thread, µs (negative: not even aedes fits). */
  durableOnAedesThreadUs: number;
}

export function ingestBudget(figure: IngestFigure, cores: number): IngestBudget {
  const rate = figure.aedes.ackedPerSecond;
  const generatorUs = (figure.aedes.generatorCpu * 1e6) / rate;
  const aedesUs = figure.aedesCpuPerObservation;
  const targetRate = TARGET_RATIO * rate;
  const gatewayUs = (cores * 1e6) / targetRate - generatorUs;
  return {
    devices: figure.devices,
    generatorUs,
    aedesUs,
    gatewayUs,
    durableUs: gatewayUs - aedesUs,
    durableOnAedesThreadUs: 1e6 / targetRate - aedesUs,
  };
}
