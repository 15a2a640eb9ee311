/*
 * `xsedge sim run <scenario>`: runs a scenario file, with a progress bar
 * on stderr, its summary table on stdout and its JSON report in a file;
 * exits 1 when an expectation did not hold (or the run failed), 2 when the
 * scenario file or a flag is wrong (naming the file, line and field).
 */
import { createWriteStream, writeFileSync, type WriteStream } from "node:fs";
import { basename, extname, resolve } from "node:path";
import { parseFlags, parseInteger, parsePort, processIo, stringFlag, UsageError, type CommandIo } from "../../hosts/cli/command.js";
import { startUiServer, type UiServer } from "../ui/ui-server.js";
import { ProgressBar } from "./progress-bar.js";
import { readScenarioFile } from "./scenario-file.js";
import { summaryTable } from "./scenario-report.js";
import { runScenario } from "./scenario-runner.js";

export const RUN_USAGE = `Usage: xsedge sim run <scenario file> [options]

Runs a scenario (YAML, or JSON in a .json file): groups of simulated devices
with their apps, parts, signals and faults; what happens to them, the
network, the gateway and the cloud over time; and what is expected. In
virtual time (time: virtual) it runs as fast as the work allows and repeats
exactly for a seed; in real time (time: real) against the real gateway.

Shows a progress bar, prints a summary table, writes the JSON report, and
exits 1 if an expectation did not hold (2 for a mistake in the file or a
flag, naming its file, line and field).

Options:
  --seed <n>          run with this seed instead of the file's
  --report <file>     where the JSON report goes (default ./<scenario>.report.json)
  --trace <file>      write what happened, one JSON object a line (the same
                      bytes for the same seed in virtual time)
  --no-progress       no progress bar
  --ui-port <port>    serve the web UI while it runs (0: any free port)
  -h, --help          show this help
`;

function parse(argv: string[]) {
  const [file, ...rest] = argv;
  if (file === "--help" || file === "-h") return { help: true as const };
  if (file === undefined || file.startsWith("-")) throw new UsageError("a scenario file is required: xsedge sim run <scenario file>");
  const values = parseFlags(rest, {
    seed: { type: "string" },
    report: { type: "string" },
    trace: { type: "string" },
    "no-progress": { type: "boolean" },
    "ui-port": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return { help: true as const };
  const seed = stringFlag(values, "seed");
  const name = basename(file, extname(file));
  return {
    help: false as const,
    file: resolve(file),
    seed: seed === undefined ? undefined : parseInteger("--seed", seed, 0, 0xffffffff),
    report: resolve(stringFlag(values, "report") ?? `${name}.report.json`),
    trace: stringFlag(values, "trace"),
    progress: values["no-progress"] !== true,
    uiPort: stringFlag(values, "ui-port") === undefined ? undefined : parsePort("--ui-port", stringFlag(values, "ui-port")!),
  };
}

export async function scenarioRunCommand(argv: string[], io: CommandIo = processIo, tty = process.stderr.isTTY === true): Promise<number> {
  let options: ReturnType<typeof parse>;
  try {
    options = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`xsedge sim run: ${error.message}\nRun "xsedge sim run --help" for usage.\n`);
    return 2;
  }
  if (options.help) {
    io.out(RUN_USAGE);
    return 0;
  }
  const read = readScenarioFile(options.file);
  if (!read.ok) {
    io.err(`xsedge sim run: ${read.errors.length} error${read.errors.length === 1 ? "" : "s"} in the scenario:\n${read.errors.map((e) => `  ${e}\n`).join("")}`);
    return 2;
  }
  let trace: WriteStream | undefined;
  if (options.trace) trace = createWriteStream(resolve(options.trace));
  const bar = options.progress ? new ProgressBar((text) => io.err(text), tty) : undefined;
  let ui: Promise<UiServer> | undefined;
  try {
    const report = await runScenario(read.scenario, {
      seed: options.seed,
      trace: trace ? (line) => trace!.write(line + "\n") : undefined,
      progress: bar ? (at, total) => bar.update(at, total) : undefined,
      onFleet: options.uiPort === undefined ? undefined : (engine) => {
        ui = startUiServer({ engine, port: options.uiPort! });
        void ui.then((server) => io.err(`simulator UI ${server.url}\n`), (error) => io.err(`simulator UI not started: ${(error as Error).message}\n`));
      },
    });
    bar?.done();
    writeFileSync(options.report, JSON.stringify(report, null, 2) + "\n");
    io.out(summaryTable(report));
    io.out(`report: ${options.report}\n`);
    return report.ok ? 0 : 1;
  } catch (error) {
    bar?.done();
    io.err(`xsedge sim run: the run failed: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await ui?.then((server) => server.close(), () => {});
    if (trace) await new Promise<void>((resolveClose) => trace!.end(() => resolveClose()));
  }
}
