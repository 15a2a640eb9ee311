/*
 * The programs the tests run beside Node as real peers, each with the
 * Debian package that brings it: the one list that `npm test`'s set-up
 * (tests/setup-peers.ts) installs from and that every test looks its
 * programs up in, so a test cannot spawn something the set-up does not
 * know. A program that is missing fails its test with one line naming the
 * package and the command that installs it.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, dirname, join } from "node:path";

export interface PeerProgram {
  name: string;
  debianPackage: string;
  /** What needs it, for the set-up's message. */
  usedFor: string;
}

export const PEER_PROGRAMS: readonly PeerProgram[] = Object.freeze([
  { name: "mosquitto", debianPackage: "mosquitto", usedFor: "the external-broker tests" },
  { name: "mosquitto_passwd", debianPackage: "mosquitto", usedFor: "the external-broker tests" },
  { name: "chromium", debianPackage: "chromium", usedFor: "the dashboard's and the simulator UI's screenshot tests" },
  { name: "systemd-analyze", debianPackage: "systemd", usedFor: "verifying the gateway's unit file" },
  { name: "promtool", debianPackage: "prometheus", usedFor: "checking /metrics" },
  { name: "openssl", debianPackage: "openssl", usedFor: "test certificates" },
  { name: "sqlite3", debianPackage: "sqlite3", usedFor: "the README's store recovery steps" },
  { name: "prlimit", debianPackage: "util-linux", usedFor: "the full-disk test" },
  { name: "sh", debianPackage: "dash", usedFor: "the full-disk test" },
  { name: "git", debianPackage: "git", usedFor: "the bench's baseline app, built from history" },
  { name: "tar", debianPackage: "tar", usedFor: "the bench's baseline app, built from history" },
]);

/** The command that installs `packages` on Debian. */
export function installCommand(packages: readonly string[]): string {
  return `sudo apt-get install -y --no-install-recommends ${[...new Set(packages)].join(" ")}`;
}

export class MissingPeerProgram extends Error {
  constructor(program: PeerProgram) {
    super(`${program.name} is not installed (Debian package ${program.debianPackage}, for ${program.usedFor}): ${installCommand([program.debianPackage])}`);
    this.name = "MissingPeerProgram";
    // The message is the whole story; a stack would only bury it.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/**
 * Where PATH finds `name`, also looking in the sbin beside each bin (Debian
 * puts mosquitto in /usr/sbin, which a user's PATH leaves out); undefined if
 * nowhere. A test that narrows PATH hides the programs as a machine without them would.
 */
export function findProgram(name: string, path = process.env.PATH ?? ""): string | undefined {
  const dirs = path.split(delimiter).filter((dir) => dir !== "");
  const withSbin = dirs.flatMap((dir) => (dir.endsWith("/bin") ? [dir, join(dirname(dir), "sbin")] : [dir]));
  for (const dir of withSbin) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The path of peer program `name`; throws MissingPeerProgram (one line) if it is not installed. */
export function peerProgram(name: string): string {
  const program = PEER_PROGRAMS.find((p) => p.name === name);
  if (program === undefined) throw new Error(`${name} is not in tests/support/peer-programs.ts: add it with its Debian package, so npm test installs it`);
  const found = findProgram(name);
  if (found === undefined) throw new MissingPeerProgram(program);
  return found;
}
