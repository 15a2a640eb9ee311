/*
 * The stand-in as a process, for tests that SIGKILL and restart it:
 *   node dist/tests/support/akka-standin/main.js --port N --data-dir D
 *     [--never-ack] [--reset-after N] [--unavailable N] [--backtrack-every N]
 *     [--tls-cert F --tls-key F [--tls-ca F]]
 * Prints "listening <port>" on stdout once it serves; logs go to stderr.
 */
import { parseArgs } from "node:util";
import { createLogger } from "../../../hosts/log/logger.js";
import { startAkkaStandin } from "./standin.js";

const USAGE = "usage: main.js --data-dir D [--port N] [--never-ack] [--reset-after N] [--unavailable N] [--backtrack-every N] [--tls-cert F --tls-key F [--tls-ca F]]";

function count(name: string, text: string | undefined, minimum: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) throw new Error(`--${name} must be an integer of at least ${minimum}, not ${JSON.stringify(text)}`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" }, "data-dir": { type: "string" },
      "never-ack": { type: "boolean" }, "reset-after": { type: "string" }, unavailable: { type: "string" }, "backtrack-every": { type: "string" },
      "tls-cert": { type: "string" }, "tls-key": { type: "string" }, "tls-ca": { type: "string" },
    },
  });
  const dataDir = values["data-dir"];
  if (!dataDir) throw new Error("--data-dir is required");
  const certFile = values["tls-cert"], keyFile = values["tls-key"];
  if ((certFile === undefined) !== (keyFile === undefined)) throw new Error("--tls-cert and --tls-key go together");
  if (values["tls-ca"] && !certFile) throw new Error("--tls-ca needs --tls-cert and --tls-key");
  const standin = await startAkkaStandin({
    dataDir,
    port: count("port", values.port, 0) ?? 0,
    switches: {
      neverAck: values["never-ack"] ?? false,
      resetAfterEvents: count("reset-after", values["reset-after"], 1) ?? null,
      unavailableCalls: count("unavailable", values.unavailable, 0) ?? 0,
      backtrackEvery: count("backtrack-every", values["backtrack-every"], 1) ?? null,
    },
    tls: certFile && keyFile ? { certFile, keyFile, caFile: values["tls-ca"] } : undefined,
    logger: createLogger({ component: "akka-standin", level: "info" }),
  });
  process.stdout.write(`listening ${standin.port}\n`);
  const stop = () => void standin.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((e: Error) => {
  process.stderr.write(`akka-standin: ${e.message}\n${USAGE}\n`);
  process.exit(2);
});
