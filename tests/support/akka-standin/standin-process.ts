/*
 * The stand-in in its own process (main.js), for tests that SIGKILL it
 * mid-stream and start it again on the same port and data dir.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { within } from "../test-helpers.js";

const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));
/** Starting Node, loading the protos and opening SQLite on a busy CI machine. */
const START_TIMEOUT_MS = 15_000;

export class StandinProcess {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  /** The stand-in's log (stderr), for a failing test's message. */
  output = "";

  private constructor(port: number, child: ChildProcess, exited: Promise<void>) {
    this.port = port;
    this.#child = child;
    this.#exited = exited;
  }

  /** Starts main.js with `--data-dir dataDir --port port` and `args`; resolves once it prints "listening <port>". */
  static async start(dataDir: string, args: string[] = [], port = 0): Promise<StandinProcess> {
    const child = spawn(process.execPath, [MAIN, "--data-dir", dataDir, "--port", String(port), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    const listening = new Promise<number>((resolve, reject) => {
      let stdout = "";
      child.stdout!.on("data", (chunk) => {
        stdout += chunk;
        const match = /^listening (\d+)$/m.exec(stdout);
        if (match) resolve(Number(match[1]));
      });
      child.once("exit", (code) => reject(new Error(`the stand-in exited with ${code} before listening: ${stderr}`)));
    });
    try {
      const started = new StandinProcess(await within("the stand-in process to listen", listening, START_TIMEOUT_MS), child, exited);
      child.stderr!.on("data", (chunk) => (started.output += chunk));
      started.output = stderr;
      return started;
    } catch (e) {
      child.kill("SIGKILL");
      throw e;
    }
  }

  /** SIGKILL: no shutdown, no flushing; what the stand-in stored is all that survives. */
  async kill(): Promise<void> {
    this.#child.kill("SIGKILL");
    await within("the stand-in process to die", this.#exited);
  }

  /** SIGTERM: open streams end with UNAVAILABLE, then the process exits. */
  async stop(): Promise<void> {
    this.#child.kill("SIGTERM");
    await within("the stand-in process to stop", this.#exited);
  }
}
