/*
 * A compute budget around one piece of rule code, on xsnap's meter.
 *
 * xsnap counts "computrons" (roughly, bytecodes and the work of built-ins)
 * and, when the count passes the limit, stops the whole engine at once: no
 * exception a rule could catch, the worker process exits with code 17. That
 * is what makes `while (true) {}` stoppable at all, and why the gateway
 * treats that exit as "the rule in this delivery ran out of compute".
 *
 * resetMeter(limit, index) sets both and returns the index before; a budget
 * is a fresh index of 0 and a limit of the budget. Nested budgets (a
 * self-test's events inside the self-test's own) charge the inner use to the
 * outer, so the outer limit still holds. A top-level event is not charged to
 * the delivery: the worker's own limit (its -l) then bounds only the host's
 * code between events and promise jobs run after the reply is computed.
 */

export interface Metered<T> {
  value: T;
  used: number;
}

let depth = 0;
/** The meter is a 32-bit count: no budget may be more than this. */
export const MAX_BUDGET = 2_000_000_000;

export function metered<T>(asked: number, work: () => T): Metered<T> {
  const budget = Math.min(asked, MAX_BUDGET);
  const limit = currentMeterLimit();
  const nested = depth > 0;
  // Inside a budget, an inner one may not outlast what the outer has left.
  const before = resetMeter(budget, 0);
  if (nested && limit > 0) resetMeter(Math.max(1, Math.min(budget, limit - before)), 0);
  depth++;
  let value: T;
  let used = 0;
  try {
    value = work();
  } finally {
    depth--;
    used = resetMeter(limit, before);
    if (nested) resetMeter(limit, before + used);
  }
  return { value, used };
}
