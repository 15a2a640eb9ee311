/*
 * Type-checks and bundles a rule's TypeScript in a child process
 * (rule-build-child.ts), bounded in time and in what it may print, so a
 * deploy never runs the compiler on the gateway's event loop; and what a
 * deploy's request must be before anything runs.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";

/** Largest rule source accepted: a rule is one module; 256 KiB is thousands of lines. */
export const MAX_RULE_SOURCE_BYTES = 256 * 1024;
/** A build that takes longer is killed (tsc alone takes well under a second here). */
export const BUILD_TIMEOUT_MS = 60_000;
/** Most the child may print: a bundle of the largest source with its map, and then some. */
const MAX_BUILD_OUTPUT_BYTES = 16 * 1024 * 1024;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.ts$/;
const CHILD = fileURLToPath(new URL("./rule-build-child.js", import.meta.url));

export interface BuildRequest {
  source: string;
  /** The .ts file's name, as diagnostics and fault lines show it. */
  file: string;
}

export interface BuildDiagnostic {
  file: string;
  line: number;
  column: number;
  /** "TS2322", or "bundle". */
  code: string;
  message: string;
}

export type BuildResult = { ok: true; bundle: string; sourceMap: string } | { ok: false; diagnostics: BuildDiagnostic[] };

/** A request the build refuses before starting: the client's to fix. */
export class RuleRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RuleRequestError";
  }
}

/** SHA-256 of the source, hex: the version's content hash (what `sha256sum rule.ts` prints). */
export function contentHash(source: string): string {
  return createHash("sha256").update(source, "utf8").digest("hex");
}

/** Checks what a deploy sends, before anything runs. */
export function checkBuildRequest(source: unknown, file: unknown): BuildRequest {
  if (typeof source !== "string" || source.length === 0) throw new RuleRequestError("source must be the rule's TypeScript, a non-empty string");
  const bytes = Buffer.byteLength(source, "utf8");
  if (bytes > MAX_RULE_SOURCE_BYTES) throw new RuleRequestError(`source is ${bytes} bytes, over the ${MAX_RULE_SOURCE_BYTES}-byte limit (MAX_RULE_SOURCE_BYTES)`);
  const name = file === undefined ? "rule.ts" : file;
  if (typeof name !== "string" || !FILE_NAME.test(name)) throw new RuleRequestError("file must be a .ts file name (letters, digits, . _ -), without a directory");
  return { source, file: name };
}

/** The build process stays up this long after its last build (a deploy often follows a failed one), then ends: no memory kept for it. */
export const BUILDER_IDLE_MS = 30_000;

/**
 * The build process: started on the first build, kept while builds come
 * (a warm one skips Node's start and the bundler's load, a few hundred
 * milliseconds of each deploy), ended when idle. Builds run one at a time.
 */
export class RuleBuilder {
  readonly #timeoutMs: number;
  #child: ChildProcess | undefined;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #waiting: Array<{ resolve(result: BuildResult): void; reject(error: Error): void; timer: ReturnType<typeof setTimeout> }> = [];
  #out = "";
  #stderr = "";

  constructor(timeoutMs = BUILD_TIMEOUT_MS) {
    this.#timeoutMs = timeoutMs;
  }

  build(request: BuildRequest): Promise<BuildResult> {
    clearTimeout(this.#idle);
    const child = this.#start();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), this.#timeoutMs);
      this.#waiting.push({ resolve, reject, timer });
      child.stdin!.write(JSON.stringify(request) + "\n");
    });
  }

  close(): void {
    clearTimeout(this.#idle);
    this.#child?.kill("SIGKILL");
  }

  #start(): ChildProcess {
    if (this.#child) return this.#child;
    const child = spawn(process.execPath, [CHILD], { stdio: ["pipe", "pipe", "pipe"] });
    this.#child = child;
    this.#out = "";
    this.#stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (text: string) => this.#onOutput(text));
    child.stderr!.setEncoding("utf8").on("data", (text: string) => (this.#stderr = (this.#stderr + text).slice(-2000)));
    child.stdin!.on("error", () => {});
    child.on("close", (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      const error = new Error(`rule build ${signal ? `killed (${signal})` : `exited with code ${code}`}${this.#stderr ? `: ${this.#stderr.trim()}` : ""}`);
      for (const waiter of this.#waiting.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(error);
      }
    });
    return child;
  }

  #onOutput(text: string): void {
    this.#out += text;
    if (this.#out.length > MAX_BUILD_OUTPUT_BYTES) {
      this.#child?.kill("SIGKILL");
      return;
    }
    for (let end = this.#out.indexOf("\n"); end >= 0; end = this.#out.indexOf("\n")) {
      const line = this.#out.slice(0, end);
      this.#out = this.#out.slice(end + 1);
      const waiter = this.#waiting.shift();
      if (!waiter) continue;
      clearTimeout(waiter.timer);
      try {
        waiter.resolve(JSON.parse(line) as BuildResult);
      } catch (e) {
        waiter.reject(new Error(`rule build printed no result: ${(e as Error).message}`));
      }
    }
    if (this.#waiting.length === 0) {
      clearTimeout(this.#idle);
      this.#idle = setTimeout(() => this.close(), BUILDER_IDLE_MS);
      this.#idle.unref();
    }
  }
}

/** One build in a builder of its own, ended after it (for tools and tests). */
export async function buildRule(request: BuildRequest, timeoutMs = BUILD_TIMEOUT_MS): Promise<BuildResult> {
  const builder = new RuleBuilder(timeoutMs);
  try {
    return await builder.build(request);
  } finally {
    builder.close();
  }
}
