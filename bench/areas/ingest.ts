/*
 * The gateway's ingest figures: CPU per durable observation beside Debian's
 * mosquitto (persistence on) and bare aedes, where the microseconds go, and
 * resident memory with 1,000 devices (latency to the cloud is area `latency`). The measuring is in gateway-figures.ts,
 * ingest-budget.ts and bench/gateway/; the prose in gateway-report.ts.
 *
 * One run of the area: gateway-figures.ts already measures each figure in
 * rounds (every server once per round, in an order rotating by round) and
 * takes each ratio within a round, which a median across whole runs of the
 * area would only repeat at three times the cost.
 */
import type { BenchArea } from "../bench-area.js";
import { figure } from "../bench-area.js";
import { measureGateway, render, type GatewayFigures } from "../gateway-report.js";
import { TARGET_CPU_RATIO, TARGET_RATE_RATIO } from "../ingest-budget.js";

interface IngestMeasurement extends GatewayFigures {
  cores: number;
}

const devices = (n: number) => `${n.toLocaleString("en")} device${n === 1 ? "" : "s"}`;

const ingest: BenchArea<IngestMeasurement> = {
  id: "ingest",
  order: 30,
  runs: 1,
  title: "gateway ingest: CPU per durable observation beside mosquitto and bare aedes, where it goes, memory",
  async measure(context) {
    return { cores: context.cores, ...(await measureGateway(context.cores, context.log)) };
  },
  figures(m) {
    const figures = [];
    for (const f of m.ingest) {
      const { gateway, mosquitto, aedes } = f.kinds;
      // The ratio reported is the median of the rounds' own ratios (gateway-figures.ts), not the ratio of the medians.
      if (gateway && mosquitto) {
        const cpu = figure(`server CPU per observation, ${devices(f.devices)}`, gateway.cpuUs, "µs", { name: "mosquitto, persistence on", value: mosquitto.cpuUs }, { atMost: TARGET_CPU_RATIO });
        figures.push({ ...cpu, ratio: f.cpuRatioToMosquitto, met: f.cpuRatioToMosquitto <= TARGET_CPU_RATIO });
      }
      if (gateway && aedes) {
        const rate = figure(`durable ingest, ${devices(f.devices)}`, gateway.ackedPerSecond, "obs/s", { name: "bare aedes", value: aedes.ackedPerSecond }, { atLeast: TARGET_RATE_RATIO });
        figures.push({ ...rate, ratio: f.rateRatioToAedes, met: f.rateRatioToAedes >= TARGET_RATE_RATIO });
      }
    }
    return figures;
  },
  report(m) {
    return render(m, m.cores);
  },
};

export default ingest;
