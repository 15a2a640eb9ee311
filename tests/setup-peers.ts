/*
 * `npm test`'s set-up: the Debian programs the tests run as real peers
 * (tests/support/peer-programs.ts: mosquitto, Chromium, systemd-analyze,
 * promtool, openssl, sqlite3, ...). Missing ones are installed with apt-get,
 * as root or through sudo; where that cannot be done (no apt-get, no root
 * and no sudo, or sudo that would ask without a terminal) it fails with one
 * line naming the packages and the command that installs them.
 * `--check`: only says what is missing, installs nothing.
 */
import { spawnSync } from "node:child_process";
import { findProgram, installCommand, PEER_PROGRAMS, type PeerProgram } from "./support/peer-programs.js";

function missing(): PeerProgram[] {
  return PEER_PROGRAMS.filter((program) => findProgram(program.name) === undefined);
}

function describe(programs: readonly PeerProgram[]): string {
  const packages = [...new Set(programs.map((p) => p.debianPackage))];
  return `the tests need ${programs.map((p) => p.name).join(", ")} (Debian packages ${packages.join(" ")}): ${installCommand(packages)}`;
}

/** How to run apt-get with the right to install: directly as root, else through sudo (asking for a password only on a terminal). */
function privileged(): string[] | undefined {
  if (findProgram("apt-get") === undefined) return undefined;
  if (process.getuid?.() === 0) return [];
  const sudo = findProgram("sudo");
  if (sudo === undefined) return undefined;
  return process.stdin.isTTY ? [sudo] : [sudo, "-n"];
}

function apt(prefix: readonly string[], args: string[]): boolean {
  const [program, ...rest] = [...prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", ...args];
  return spawnSync(program, rest, { stdio: ["inherit", "inherit", "inherit"] }).status === 0;
}

const absent = missing();
if (absent.length > 0) {
  const prefix = process.argv.includes("--check") ? undefined : privileged();
  if (prefix !== undefined) {
    const packages = [...new Set(absent.map((p) => p.debianPackage))];
    process.stdout.write(`installing the Debian packages the tests run: ${packages.join(" ")}\n`);
    if (apt(prefix, ["update", "-qq"])) apt(prefix, ["install", "-y", "-qq", "--no-install-recommends", ...packages]);
  }
  const still = missing();
  if (still.length > 0) {
    process.stderr.write(`${describe(still)}\n`);
    process.exitCode = 1;
  }
}
