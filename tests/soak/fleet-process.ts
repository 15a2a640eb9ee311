/*
 * The soak's fleet: simulated devices (the device bundle on XS, many per
 * xsnap-worker, each in a Compartment of its own) through the fleet
 * interface (simulator/fleet.ts, what `xsedge sim` runs), in a process of its own, logging in with the
 * secrets the soak registered. When the simulator's fleet engine changes,
 * this is the file that follows it.
 * argv: <count> <gateway port> <data dir> <sample period ms> <id prefix> <secret prefix>.
 * Prints "started <count>" once every device runs; stops on SIGTERM.
 */
import { createLogger } from "../../hosts/log/logger.js";
import { startFleet, stopFleet } from "../../simulator/fleet.js";

const [count, port, dataDir, periodMs, prefix, secretPrefix] = process.argv.slice(2);
const logger = createLogger({ component: "soak-fleet", level: "error" });
const fleet = await startFleet({
  count: Number(count),
  gatewayAddress: "127.0.0.1",
  gatewayPort: Number(port),
  samplePeriodMs: Number(periodMs),
  idPrefix: prefix,
  dataDir,
  secretFor: (sensorId) => `${secretPrefix}${sensorId}`,
  logger,
});
process.stdout.write(`started ${fleet.length}\n`);
process.once("SIGTERM", () => {
  void stopFleet(fleet).then(() => process.exit(0));
});
