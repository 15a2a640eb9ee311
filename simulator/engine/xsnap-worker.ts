/*
 * One xsnap-worker process (the real XS engine from @agoric/xsnap), driven
 * over its netstring pipes directly rather than through the package's JS API,
 * whose SES lockdown would harden the whole host process.
 *
 * The worker answers one host message at a time, and while it runs one it may
 * ask the host questions (`issueCommand`) that must be answered before it
 * goes on; so messages to it are strictly serialized, and queries are
 * answered synchronously from the reading loop.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { existsSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { NetstringDecoder, encodeNetstring } from "./netstring.js";

export interface Meter {
  /** Live XS heap slots (xsnap's currentHeapCount); a slot is 16 bytes on 32-bit boards, 32 on 64-bit hosts. */
  currentHeapCount: number;
  compute: number;
  allocate: number;
}

export interface XsnapReply {
  reply: Uint8Array;
  meter: Meter;
}

export type QueryHandler = (request: Uint8Array) => Uint8Array;

/** An exception that escaped the code or command the host sent. */
export class XsnapError extends Error {
  constructor(worker: string, message: string) {
    super(`${worker}: uncaught exception in XS: ${message}`);
    this.name = "XsnapError";
  }
}

export class XsnapExitError extends Error {
  constructor(worker: string, detail: string) {
    super(`${worker}: xsnap-worker exited (${detail})`);
    this.name = "XsnapExitError";
  }
}

export interface XsnapWorkerOptions {
  name: string;
  onQuery: QueryHandler;
  /** Lines the worker prints to stdout (xsnap's `print`). */
  onPrint?: (line: string) => void;
  /** A query handler that threw: the worker was answered with an empty reply. */
  onQueryError?: (error: unknown) => void;
  /** Kilobytes for XS's parser buffer; a device bundle is well under the default. */
  parserBufferKb?: number;
  /** A snapshot file (written by writeSnapshot) to start from instead of a fresh machine. */
  snapshot?: string;
}

interface Pending {
  resolve(reply: XsnapReply): void;
  reject(error: Error): void;
}

const OK = 0x2e; // '.'
const ERROR = 0x21; // '!'
const QUERY = 0x3f; // '?'
const METER_SEPARATOR = 0x01;
const STDERR_TAIL_BYTES = 2048;

export function xsnapWorkerPath(): string {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve("@agoric/xsnap/package.json"));
  const platform = process.platform === "linux" ? "lin" : process.platform === "darwin" ? "mac" : undefined;
  if (!platform) throw new Error(`xsnap-worker is not built for ${process.platform}`);
  const path = join(root, "xsnap-native", "xsnap", "build", "bin", platform, "release", "xsnap-worker");
  if (!existsSync(path)) throw new Error(`xsnap-worker not found at ${path}: did "npm install" build @agoric/xsnap?`);
  return path;
}

/** `xsnap-worker -v`'s first line: the package's version and the XS engine's, for a bench's report. */
export function xsnapWorkerVersion(): string {
  return execFileSync(xsnapWorkerPath(), ["-v"], { encoding: "utf8", timeout: 10_000 }).split("\n")[0].trim();
}

export class XsnapWorker {
  readonly name: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private readonly toWorker: Writable;
  private readonly decoder = new NetstringDecoder();
  private readonly options: XsnapWorkerOptions;
  private readonly queue: Array<{ message: Buffer; pending: Pending }> = [];
  private current: Pending | undefined;
  private exitError: Error | undefined;
  private stderrTail = "";
  private stdoutPartial = "";

  constructor(options: XsnapWorkerOptions) {
    this.options = options;
    this.name = options.name;
    const args = [options.name.replace(/^-+/, "")];
    if (options.parserBufferKb) args.push("-s", String(options.parserBufferKb));
    if (options.snapshot) args.push("-r", options.snapshot);
    this.child = spawn(xsnapWorkerPath(), args, { stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"] });
    this.toWorker = this.child.stdio[3] as Writable;
    const fromWorker = this.child.stdio[4] as Readable;
    // A write after the worker died raises EPIPE here; the exit handler reports it.
    this.toWorker.on("error", () => {});
    fromWorker.on("data", (chunk: Buffer) => this.onData(chunk));
    this.child.stdout!.setEncoding("utf8").on("data", (text: string) => this.onStdout(text));
    this.child.stderr!.setEncoding("utf8").on("data", (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_BYTES);
    });
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        const tail = this.stderrTail.trim();
        this.exitError = new XsnapExitError(this.name, `code ${code}, signal ${signal}${tail ? `: ${tail}` : ""}`);
        this.failAll(this.exitError);
        resolve({ code, signal });
      });
    });
  }

  /** Evaluates a script (a bundle, or a line of setup). */
  evaluate(code: string): Promise<XsnapReply> {
    return this.send(Buffer.concat([Buffer.from("e"), Buffer.from(code, "utf8")]));
  }

  /** Calls the worker's globalThis.handleCommand with these bytes. */
  command(bytes: Uint8Array): Promise<XsnapReply> {
    return this.send(Buffer.concat([Buffer.from("?"), bytes]));
  }

  /** Writes the whole machine to `path` (xsnap's `w` command); a worker started with `snapshot: path` resumes from it. */
  async writeSnapshot(path: string): Promise<number> {
    const { reply } = await this.send(Buffer.from(`w${path}`, "utf8"));
    return Number(Buffer.from(reply).toString("latin1"));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Stops the worker; pending commands fail with an exit error. */
  async close(): Promise<void> {
    if (!this.exitError) this.child.kill("SIGTERM");
    await this.exited;
  }

  private send(message: Buffer): Promise<XsnapReply> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise<XsnapReply>((resolve, reject) => {
      this.queue.push({ message, pending: { resolve, reject } });
      this.next();
    });
  }

  private next(): void {
    if (this.current || this.queue.length === 0 || this.exitError) return;
    const { message, pending } = this.queue.shift()!;
    this.current = pending;
    this.toWorker.write(encodeNetstring(message));
  }

  private onData(chunk: Buffer): void {
    let messages: Buffer[];
    try {
      messages = this.decoder.push(chunk);
    } catch (error) {
      this.failAll(new XsnapExitError(this.name, `protocol error: ${(error as Error).message}`));
      this.child.kill("SIGKILL");
      return;
    }
    for (const message of messages) this.onMessage(message);
  }

  private onMessage(message: Buffer): void {
    const kind = message[0];
    if (kind === QUERY) {
      let answer: Uint8Array;
      try {
        // A plain Uint8Array view: Buffer's slice() does not copy, which would surprise every reader.
        answer = this.options.onQuery(new Uint8Array(message.buffer, message.byteOffset + 1, message.byteLength - 1));
      } catch (error) {
        this.options.onQueryError?.(error);
        answer = new Uint8Array(0);
      }
      this.toWorker.write(encodeNetstring(Buffer.from("/"), answer));
      return;
    }
    const pending = this.current;
    this.current = undefined;
    if (!pending) {
      this.failAll(new XsnapExitError(this.name, `unexpected message '${String.fromCharCode(kind)}' with nothing pending`));
      return;
    }
    if (kind === OK) {
      const separator = message.indexOf(METER_SEPARATOR, 1);
      const meter = separator > 0 ? (JSON.parse(message.subarray(1, separator).toString("utf8")) as Meter) : { currentHeapCount: 0, compute: 0, allocate: 0 };
      const start = separator > 0 ? separator + 1 : 1;
      pending.resolve({ reply: new Uint8Array(message.buffer, message.byteOffset + start, message.byteLength - start), meter });
    } else if (kind === ERROR) {
      pending.reject(new XsnapError(this.name, message.subarray(1).toString("utf8")));
    } else {
      pending.reject(new XsnapExitError(this.name, `unknown reply '${String.fromCharCode(kind)}'`));
    }
    this.next();
  }

  private onStdout(text: string): void {
    const lines = (this.stdoutPartial + text).split("\n");
    this.stdoutPartial = lines.pop() ?? "";
    for (const line of lines) this.options.onPrint?.(line);
  }

  private failAll(error: Error): void {
    const pending = this.current ? [this.current, ...this.queue.map((q) => q.pending)] : this.queue.map((q) => q.pending);
    this.current = undefined;
    this.queue.length = 0;
    for (const p of pending) p.reject(error);
  }
}
