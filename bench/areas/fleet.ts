/*
 * The simulator's figures: devices sustained in real time against a real
 * gateway, memory and CPU per device, for the fleet (many devices per
 * xsnap-worker) against one worker per device in the same run. The
 * measuring is bench/fleet-figures.ts's (each level in processes of its
 * own, bench/fleet/); this file writes it up.
 *
 * One run of the area: each run climbs levels of up to 10,000 devices,
 * minutes each, and its figures are ratios of two designs measured in it.
 */
import { figure, type BenchArea } from "../bench-area.js";
import { fleetFigures, fleetFiguresMarkdown, type FleetFigures } from "../fleet-figures.js";

const fleet: BenchArea<FleetFigures> = {
  id: "fleet",
  order: 25,
  runs: 1,
  title: "simulator: devices sustained in real time against a real gateway, memory and CPU per device, against one worker per device",
  measure(context) {
    return fleetFigures({
      onLevel: (l) => context.log(`${l.design} ${l.devices} devices: stored/sampled ${l.storedShare.toFixed(2)}, late p99 ${l.lateP99Ms ?? "–"} ms, ${Math.round(l.memoryPerDeviceBytes / 1024)} KiB and ${Math.round(l.cpuPerDeviceSecondUs)} µs per device-second${l.sustained ? "" : ": not sustained"}`),
    });
  },
  figures: (m) => [
    figure("devices sustained in real time", m.fleetSustained, "devices", { name: "one worker per device", value: m.baselineSustained }),
    figure("memory per device", m.fleetMemoryPerDeviceBytes, "B", { name: "one worker per device", value: m.baselineMemoryPerDeviceBytes }),
    figure("CPU per device-second", m.fleetCpuPerDeviceSecondUs, "µs", { name: "one worker per device", value: m.baselineCpuPerDeviceSecondUs }),
  ],
  report: (m) => ["## Simulator: devices sustained in real time, against one worker per device", "", ...fleetFiguresMarkdown(m), ""],
};

export default fleet;
