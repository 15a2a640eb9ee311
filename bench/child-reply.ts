/*
 * The bench's servers and load generators run in processes of their own
 * (so each takes the machine's cores as it would alone); this is how the
 * bench waits for one's answer: the next message `accept` takes, or an
 * error the child reports, its exit, or silence past `timeoutMs` — a wedged
 * child fails the bench instead of hanging it.
 */
import type { ChildProcess } from "node:child_process";

export function nextReply<T>(child: ChildProcess, what: string, accept: (message: any) => T | undefined, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
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
