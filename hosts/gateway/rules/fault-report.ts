/*
 * The words of a rule's fault in the gateway's log and API: what happened,
 * in which handler, at which line of the rule's .ts, on which observation.
 *
 * A throw carries XS's stack, whose first frame in the bundle is mapped
 * through the version's source map. A tripped limit ends the engine with no
 * stack to read (xsnap stops at once), so the line given is where the
 * handler that was running is defined in the source.
 */
import { firstFrameLine, SourceLines } from "./source-lines.js";
import type { Fault } from "./xs/protocol.js";

export interface FaultSource {
  /** The .ts file name. */
  file: string;
  /** The bundle's name as XS's stack frames show it. */
  bundleFile: string;
  source: string;
  sourceMap: string;
}

export interface FaultContext {
  observation?: { id: number; sensorId: string; seq: number };
  timer?: string;
}

/** Where in the source: "freezer-alarm.ts:14", or undefined when nothing says. */
export function faultLine(fault: Fault, version: FaultSource, lines: () => SourceLines): string | undefined {
  if (fault.stack) {
    const line = firstFrameLine(fault.stack, version.bundleFile);
    const original = line === undefined ? undefined : lines().original(line);
    if (original) return `${original.source}:${original.line}`;
  }
  const handler = fault.handler;
  if (handler === undefined || handler === "module" || handler === "state") return undefined;
  const escaped = handler.replace(/[^A-Za-z0-9_]/g, "");
  const index = version.source.search(new RegExp(`\\b${escaped}\\s*(?:\\(|:|=)`));
  if (index < 0) return undefined;
  return `${version.file}:${version.source.slice(0, index).split("\n").length}`;
}

/** One line for the log and the API: "throw in onObservation (freezer.ts:14) on observation 12 (freezer-1 seq 7): Error: …". */
export function describeFault(fault: Fault, line: string | undefined, context: FaultContext): string {
  const where = [fault.handler ? `in ${fault.handler}` : undefined, line ? `(${line})` : undefined].filter(Boolean).join(" ");
  const on = context.observation
    ? ` on observation ${context.observation.id} (${context.observation.sensorId} seq ${context.observation.seq})`
    : context.timer !== undefined
      ? ` in timer ${JSON.stringify(context.timer)}`
      : "";
  return `${fault.kind}${where ? ` ${where}` : ""}${on}: ${fault.message}`;
}
