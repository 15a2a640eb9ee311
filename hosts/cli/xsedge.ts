#!/usr/bin/env node
/*
 * `xsedge`: one command for every process of the system, so an operator and
 * a tester type the same thing.
 */
import { gatewayCommand } from "../gateway/cli.js";
import { rulesCommand } from "../gateway/rules/cli.js";
import { cloudCommand } from "../../simulator/cloud/cli.js";
import { simCommand } from "../../simulator/cli.js";
import { upCommand } from "./up.js";

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  up: upCommand,
  gateway: gatewayCommand,
  rules: (argv) => rulesCommand(argv),
  sim: simCommand,
  cloud: cloudCommand,
};

export const USAGE = `Usage: xsedge <command> [options]

Commands:
  up        cloud + gateway + simulated devices on 127.0.0.1 (npm start)
  gateway   the edge gateway: MQTT ingest, SQLite store, relay to the cloud
  rules     deploy, list, show, disable, enable, roll back a running gateway's rules
  sim       simulated devices running the device bundle on the XS engine
  cloud     the reference cloud registration service

Run "xsedge <command> --help" for a command's options.
`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
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
