/*
 * Shared by the tests: temporary data directories, bounded
 * waits (every wait fails after a few seconds instead of hanging the suite),
 * and a free port.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import type { Observation } from "../../modules/observation/record.js";

/**
 * Long enough for a slow or busy CI machine (two test files share two cores,
 * and other work may share them too), short enough that a broken test fails
 * in seconds, not minutes. A wait is a bound on something that must happen,
 * never a speed assertion (speed lives in npm run bench), so a generous
 * bound costs nothing when the test passes. XSEDGE_TEST_WAIT_MS overrides it.
 */
export const WAIT_MS = Number(process.env.XSEDGE_TEST_WAIT_MS) || 10_000;

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `xsedge-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Polls `check` until it returns a truthy value, failing with `what` (worded when the wait fails) after `timeoutMs`. */
export async function waitFor<T>(what: string | (() => string), check: () => T | undefined | false | null, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Rejects with `what` if `promise` has not settled within `timeoutMs`. */
export async function within<T>(what: string, promise: Promise<T>, timeoutMs = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A port that was free a moment ago (for "start the cloud later on this port"). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || !address) throw new Error("no port");
  return address.port;
}

export function observation(sensorId: string, seq: number, temperature = 21.5): Observation {
  return { sensorId, seq, boot: 1, uptimeMs: seq * 1000, readings: [{ quantity: "temperature", value: temperature }] };
}

export function quietLogger() {
  return createMemoryLogger("test");
}

/**
 * Samples `read` every 200 ms until two samples in a row are equal and above 0 (a flow held back by backpressure has
 * stopped), at most 50 times; the last sample.
 */
export async function whenStill(read: () => number): Promise<number> {
  let last = -1;
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = read();
    if (now === last && now > 0) break;
    last = now;
  }
  return last;
}
