/*
 * The CPU time a process has used, from /proc: what the gateway rule
 * workers' watchdog counts (a worker the kernel keeps off the CPU is
 * waiting, not overrunning), and what the fleet and the bench report.
 */
import { readFileSync } from "node:fs";

/** /proc's clock ticks per second (USER_HZ): 100 on every Linux the gateway runs on (x86, ARM, RISC-V). */
const TICKS_PER_SECOND = 100;

/** User plus system CPU time of `pid`, ms; undefined when it cannot be read (the process is gone, or this is not Linux). */
export function cpuTimeMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from its last ")". utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}
