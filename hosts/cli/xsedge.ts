#!/usr/bin/env node
/*
 * `xsedge`: one command for every process of the system, so an operator and
 * a tester type the same thing.
 */
import { readFileSync } from "node:fs";
import { gatewayCommand } from "../gateway/cli.js";
import { rulesCommand } from "../gateway/rules/cli.js";
import { cloudCommand } from "../../simulator/cloud/cli.js";
import { simCommand } from "../../simulator/cli.js";
import { upCommand } from "./up.js";
import { newCommand } from "./new-project.js";
import { bundleCommand } from "./bundle.js";
import { deviceCommand } from "./device.js";

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  up: upCommand,
  gateway: gatewayCommand,
  rules: (argv) => rulesCommand(argv),
  sim: simCommand,
  cloud: cloudCommand,
  new: newCommand,
  bundle: bundleCommand,
  device: (argv) => deviceCommand(argv),
};

export const USAGE = `Usage: xsedge <command> [options]

Commands:
  up        cloud + gateway + simulated devices on 127.0.0.1 (npm start)
  gateway   the edge gateway: MQTT ingest, SQLite store, relay to the cloud
  rules     deploy, list, show, disable, enable, roll back a running gateway's rules
  sim       simulated devices running the device bundle on the XS engine
  cloud     the reference cloud registration service
  new       a new device app's project on the xsedge runtime
  bundle    a device app's bundle for mcconfig and the simulator (after tsc)
  device    change a device's settings, send it commands, see their state

Run "xsedge <command> --help" for a command's options, "xsedge --version"
for the version.
`;

/** The version package.json declares (dist/hosts/cli/ is three levels below it). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v" || name === "version") {
    process.stdout.write(`xsedge ${version()}\n`);
    return 0;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`xsedge: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  return command(rest);
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything is closed by now; a handle some library left open must not keep a stopped gateway alive.
setTimeout(() => process.exit(code), 3000).unref();
