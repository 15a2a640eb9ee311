/*
 * A rule worker's place on the CPU and its watchdog, on the real engine:
 * it runs under SCHED_IDLE (the gateway's threads always go first), so its
 * watchdog counts the CPU time it had, not the wall time it waited; one
 * that waits on anything else too long is still killed.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { RuleWorker, WATCHDOG_WALL_FACTOR, WorkerDiedError } from "../../../hosts/gateway/rules/rule-worker.js";
import { DEFAULT_LIMITS, DEFAULT_WORKER_MEMORY_BYTES, MAX_LIMITS } from "../../../hosts/gateway/rules/rule-limits.js";
import type { DeliverReply, LoadReply } from "../../../hosts/gateway/rules/xs/protocol.js";

const READY_MS = 20_000;
/** sched(7): SCHED_IDLE. */
const SCHED_IDLE = 5;
const RULE = `export default { name: "count", select: { sensors: "*" }, initialState: () => ({ n: 0 }), onObservation(o, ctx) { ctx.state.n++; } };`;
const deliver = { op: "deliver" as const, slot: "count", events: [{ kind: "observation" as const, o: { id: 1, sensorId: "s-1", seq: 1, time: 1, receivedAt: 1, readings: [] } }] };

/** Field 41 of /proc/<pid>/stat: the scheduling policy. */
function policyOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[38]);
}

async function withLoadedWorker(run: (worker: RuleWorker, pid: number) => Promise<void>): Promise<void> {
  const worker = new RuleWorker({ name: "rule-worker-test", memoryCapBytes: DEFAULT_WORKER_MEMORY_BYTES });
  try {
    await worker.ready(READY_MS);
    const { reply } = await worker.request<LoadReply>({ op: "load", slot: "count", code: RULE, file: "count.js", state: null, defaults: DEFAULT_LIMITS, maxima: MAX_LIMITS }, READY_MS);
    assert.ok(reply.ok);
    await run(worker, worker.pid!);
  } finally {
    await worker.close();
  }
}

test("a rule worker runs under SCHED_IDLE: it gets a core only when nothing else wants it", async () => {
  await withLoadedWorker(async (_worker, pid) => {
    assert.is(policyOf(pid), SCHED_IDLE);
  });
});

test("a worker kept off the CPU for three times its request's timeout is not killed: it answers once it runs again", async () => {
  await withLoadedWorker(async (worker, pid) => {
    const timeoutMs = 200;
    process.kill(pid, "SIGSTOP");
    const answer = worker.request<DeliverReply>(deliver, timeoutMs);
    await new Promise((r) => setTimeout(r, 3 * timeoutMs));
    process.kill(pid, "SIGCONT");
    const { reply } = await answer;
    assert.ok(reply.ok, "the delivery was answered");
    assert.ok(worker.alive);
  });
});

test("a worker that does not run for WATCHDOG_WALL_FACTOR times the timeout is killed by its watchdog", async () => {
  await withLoadedWorker(async (worker, pid) => {
    const timeoutMs = 100;
    process.kill(pid, "SIGSTOP");
    const started = Date.now();
    // Bounded: a watchdog that waited for CPU time alone would wait for ever.
    const limit = new Promise((r) => setTimeout(() => r("no death within 10 s"), 10_000));
    const error = await Promise.race([worker.request<DeliverReply>(deliver, timeoutMs).then(() => undefined, (e: unknown) => e), limit]);
    const waited = Date.now() - started;
    assert.instance(error, WorkerDiedError);
    assert.is((error as WorkerDiedError).death, "watchdog");
    assert.ok(waited >= timeoutMs * WATCHDOG_WALL_FACTOR && waited < timeoutMs * WATCHDOG_WALL_FACTOR + 5000, `killed after ${waited} ms`);
  });
});

test.run();
