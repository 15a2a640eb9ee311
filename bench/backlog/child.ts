/*
 * The backlog bench's processes talk to the parent over IPC: the child
 * sends {ready, ...} once started and answers {type: "stats"} with its
 * figures and {type: "stop"} with {stopped: true}. This is the parent's
 * side: fork, wait for an answer (bounded, so a wedged child fails the
 * bench instead of hanging it), stop.
 */
import { fork, type ChildProcess } from "node:child_process";
import { nextReply } from "../child-reply.js";

/** Bounds every exchange with a child. */
const CHILD_TIMEOUT_MS = 300_000;

export interface Child {
  process: ChildProcess;
  ready: Record<string, unknown>;
  ask<T>(message: Record<string, unknown>, accept: (reply: any) => T | undefined): Promise<T>;
  stop(): Promise<void>;
}

function next<T>(child: ChildProcess, what: string, accept: (message: any) => T | undefined): Promise<T> {
  return nextReply(child, what, accept, CHILD_TIMEOUT_MS);
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
