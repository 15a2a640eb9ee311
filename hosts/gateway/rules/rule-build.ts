/*
 * Type-checks and bundles a rule's TypeScript in a child process
 * (rule-build-child.ts), bounded in time and in what it may print, so a
 * deploy never runs the compiler on the gateway's event loop.
 */
import { spawn } from "node:child_process";
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

export function buildRule(request: BuildRequest, timeoutMs = BUILD_TIMEOUT_MS): Promise<BuildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let size = 0;
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > MAX_BUILD_OUTPUT_BYTES) child.kill("SIGKILL");
      else out.push(chunk);
    });
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr = (stderr + text).slice(-2000)));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`rule build ${signal ? `killed (${signal})` : `exited with code ${code}`}${stderr ? `: ${stderr.trim()}` : ""}`));
      try {
        resolve(JSON.parse(Buffer.concat(out).toString("utf8")) as BuildResult);
      } catch (e) {
        reject(new Error(`rule build printed no result: ${(e as Error).message}`));
      }
    });
    child.stdin.end(JSON.stringify(request));
  });
}
