/*
 * Running rule code: within a budget, with whatever it throws turned into a
 * Fault that says what happened and in which handler.
 */
import "./freeze.js";
import { OutputError } from "./event-context.js";
import { metered } from "./meter.js";
import type { Fault, FaultKind } from "./protocol.js";

/** Thrown by a self-test's check(): the version is refused. */
export class SelfTestFailure extends Error {
  // A field, not `this.name = ...`: the hardened Error.prototype.name would refuse the assignment.
  override readonly name = "SelfTestFailure";
}

/** A rule's fault, carried out of the code that found it. */
export class RuleFault extends Error {
  readonly fault: Fault;
  constructor(fault: Fault) {
    super(fault.message);
    this.fault = fault;
  }
}

// Rule code may catch these (a failed ctx call, a self-test check) and reach their classes: frozen, like the built-ins.
harden(SelfTestFailure);
harden(RuleFault);

/** What a thrown value says, read inside the rule's budget (it may be the rule's object, with getters). */
function describeThrown(thrown: unknown, handler: string): Fault {
  // A fault from a nested run (a self-test's event) keeps its own description.
  if (thrown instanceof RuleFault) return thrown.fault;
  const kind: FaultKind = thrown instanceof OutputError ? "output" : thrown instanceof SelfTestFailure ? "self-test" : "throw";
  let message: string;
  let stack: string | undefined;
  try {
    const error = thrown as { message?: unknown; stack?: unknown; name?: unknown };
    if (typeof thrown === "object" && thrown !== null && typeof error.message === "string") {
      message = `${typeof error.name === "string" ? error.name : "Error"}: ${error.message}`;
      stack = typeof error.stack === "string" ? error.stack : undefined;
    } else message = `threw ${String(thrown)}`;
  } catch {
    message = "threw a value that cannot be described";
  }
  return { kind, message: message.slice(0, 1000), stack: stack?.slice(0, 4000), handler };
}

/** Runs rule code within `budget`; a throw becomes a RuleFault naming `handler`. */
export function run<T>(budget: number, handler: string, work: () => T): { value: T; used: number } {
  const { value, used } = metered(budget, () => {
    try {
      return { ok: true as const, value: work() };
    } catch (thrown) {
      return { ok: false as const, fault: describeThrown(thrown, handler) };
    }
  });
  if (!value.ok) throw new RuleFault(value.fault);
  return { value: value.value, used };
}

