/*
 * Debian's mosquitto as a baseline of the ingest benchmark: a C broker with
 * persistence on (its in-memory state saved now and then, not per message:
 * a PUBACK there means "in mosquitto's memory"), password logins like the
 * gateway's, on a loopback port of its own.
 *
 * Its CPU time and resident memory are read from /proc, since it is not a
 * Node process. If the package is missing the bench says so and how to get
 * it, rather than dropping the column silently.
 */
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MissingPeerProgram, peerProgram } from "../../tests/support/peer-programs.js";
import { cpuTimeMs } from "../../hosts/proc/process-cpu.js";

/** Bounds its start: a broker that does not listen within this long has failed. */
const START_TIMEOUT_MS = 10_000;

/** Why mosquitto cannot run here, or undefined when it can. */
export function mosquittoMissing(): string | undefined {
  try {
    peerProgram("mosquitto");
    peerProgram("mosquitto_passwd");
    return undefined;
  } catch (error) {
    if (error instanceof MissingPeerProgram) return error.message;
    throw error;
  }
}

export interface MosquittoServer {
  port: number;
  /** CPU time (user + system) the broker has used, ms. */
  cpuMs(): number;
  rss(): number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/** Starts mosquitto with `users` (username, password) allowed to log in. */
export async function startMosquitto(users: ReadonlyArray<{ username: string; password: string }>): Promise<MosquittoServer> {
  const missing = mosquittoMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), "xsedge-bench-mosquitto-"));
  const passwd = join(dir, "passwd");
  // One plain-text file hashed in one go: a thousand mosquitto_passwd runs would take longer than the measurement.
  writeFileSync(passwd, users.map((u) => `${u.username}:${u.password}\n`).join(""));
  const mosquittoPasswd = peerProgram("mosquitto_passwd");
  execFileSync(mosquittoPasswd, ["-U", passwd], { stdio: "ignore" });
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous false",
    `password_file ${passwd}`,
    "persistence true",
    `persistence_location ${dir}/`,
    // The gateway's limit on publishes in flight per device is far above the bench's windows; mosquitto's default (20) is not.
    "max_inflight_messages 0",
    "max_queued_messages 0",
    "log_dest none",
    ...(process.getuid?.() === 0 ? ["user root"] : []),
  ].join("\n") + "\n");
  const mosquitto = peerProgram("mosquitto");
  const child = spawn(mosquitto, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  child.stderr?.on("data", (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const until = Date.now() + START_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > until) {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`mosquitto did not start: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const pid = child.pid!;
  return {
    port,
    cpuMs() {
      const ms = cpuTimeMs(pid);
      if (ms === undefined) throw new Error(`mosquitto (pid ${pid}) has no /proc entry`);
      return ms;
    },
    rss() {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      return match ? Number(match[1]) * 1024 : 0;
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
