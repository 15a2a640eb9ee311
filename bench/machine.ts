/*
 * The machine and the versions a bench run measured on, for the head of
 * RESULTS.md and results.json: a figure means little without them. The
 * load average is taken at the start and at the end, since these machines
 * are often shared while the bench runs.
 */
import Database from "better-sqlite3";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { arch, availableParallelism, cpus, loadavg, platform, release, totalmem, version } from "node:os";
import { xsnapWorkerVersion } from "../simulator/engine/xsnap-worker.js";
import { peerProgram } from "../tests/support/peer-programs.js";

export interface Machine {
  platform: string;
  kernel: string;
  cpu: { model: string; logical: number; mhz: number };
  memoryGiB: number;
  node: string;
  /** `xsnap-worker -v`: the package's version and the XS engine's. */
  xsnap: string;
  sqlite: string;
  betterSqlite3: string;
  aedes: string;
  /** `mosquitto -h`'s first line, or why there is none. */
  mosquitto: string;
  /** 1-minute load averages: at the start of the run, and (filled in by run.ts) at its end. */
  loadAtStart: number;
  loadAtEnd?: number;
}

// Read from node_modules directly: some packages' export maps hide their package.json.
function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(fileURLToPath(new URL(`../../node_modules/${name}/package.json`, import.meta.url)), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function firstLine(name: string, args: string[]): string {
  try {
    const command = peerProgram(name);
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 }).split("\n")[0].trim();
  } catch (error) {
    // mosquitto -h exits non-zero after printing its version.
    const out = String((error as { stdout?: string }).stdout ?? "").split("\n")[0].trim();
    return out || `not available (${(error as Error).message.split("\n")[0]})`;
  }
}

export function describeMachine(): Machine {
  const db = new Database(":memory:");
  const sqlite = (db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v;
  db.close();
  const cpu = cpus()[0];
  return {
    platform: `${platform()}/${arch()}`,
    kernel: `${release()} (${version()})`,
    cpu: { model: cpu?.model ?? "unknown", logical: availableParallelism(), mhz: cpu?.speed ?? 0 },
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    xsnap: (() => {
      try {
        return xsnapWorkerVersion();
      } catch (error) {
        return `not available (${(error as Error).message.split("\n")[0]})`;
      }
    })(),
    sqlite,
    betterSqlite3: packageVersion("better-sqlite3"),
    aedes: packageVersion("aedes"),
    mosquitto: firstLine("mosquitto", ["-h"]),
    loadAtStart: loadavg()[0],
  };
}

export function machineLine(m: Machine): string {
  const load = m.loadAtEnd === undefined ? `${m.loadAtStart.toFixed(2)}` : `${m.loadAtStart.toFixed(2)} at the start, ${m.loadAtEnd.toFixed(2)} at the end`;
  return [
    `${m.platform}, kernel ${m.kernel}`,
    `${m.cpu.logical} × ${m.cpu.model}${m.cpu.mhz ? ` (${m.cpu.mhz} MHz)` : ""}, ${m.memoryGiB} GiB`,
    `Node ${m.node}, ${m.xsnap}, SQLite ${m.sqlite} (better-sqlite3 ${m.betterSqlite3}), aedes ${m.aedes}, ${m.mosquitto}`,
    `load average (1 min) ${load}`,
  ].join("; ");
}
