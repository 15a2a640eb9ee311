/*
 * The backlog bench's processes talk to the parent over IPC: the child
 * sends {ready, ...} once started and answers {type: "stats"} with its
 * figures and {type: "stop"} with {stopped: true}. This is the parent's
 * side: fork, wait for an answer (bounded, so a wedged child fails the
 * bench instead of hanging it), stop.
 */
import { fork, type ChildProcess } from "node:child_process";

/** Bounds every exchange with a child. */
const CHILD_TIMEOUT_MS = 300_000;

export interface Child {
  process: ChildProcess;
  ready: Record<string, unknown>;
  ask<T>(message: Record<string, unknown>, accept: (reply: any) => T | undefined): Promise<T>;
  stop(): Promise<void>;
}

function next<T>(child: ChildProcess, what: string, accept: (message: any) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what}: no answer within ${CHILD_TIMEOUT_MS} ms`)), CHILD_TIMEOUT_MS);
    const onMessage = (message: any) => {
      if (message?.error) return done(new Error(`${what}: ${message.error}`));
      const value = accept(message);
      if (value !== undefined) done(undefined, value);
    };
    const onExit = (code: number | null) => done(new Error(`${what}: child exited (${code})`));
    function done(error?: Error, value?: T) {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (error) reject(error);
      else resolve(value as T);
    }
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

export async function startChild(script: string, args: string[], what: string, env: Record<string, string> = {}): Promise<Child> {
  const child = fork(script, args, { stdio: ["ignore", "inherit", "inherit", "ipc"], env: { ...process.env, ...env } });
  const ready = await next(child, `${what} start`, (m) => (m?.ready ? (m as Record<string, unknown>) : undefined));
  return {
    process: child,
    ready,
    ask: (message, accept) => {
      const reply = next(child, `${what} ${String(message.type)}`, accept);
      child.send(message);
      return reply;
    },
    async stop() {
      const stopped = next(child, `${what} stop`, (m) => (m?.stopped ? true : undefined)).catch(() => child.kill("SIGKILL"));
      child.send({ type: "stop" });
      await stopped;
    },
  };
}

/** The child's side: answers stats and stop, reports errors. */
export function serve(stats: () => unknown, stop: () => Promise<void>): void {
  process.on("message", (message: any) => {
    if (message?.type === "stats") process.send!({ stats: stats() });
    if (message?.type === "stop") {
      stop().then(
        () => {
          process.send!({ stopped: true });
          process.disconnect();
        },
        (error: Error) => process.send!({ error: error.message }),
      );
    }
  });
}

export function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
