/*
 * The live JS heap, as a gauge: the heap in use outside the young
 * generation, read just after the last major (mark-compact) collection.
 *
 * nodejs_heap_size_used_bytes counts garbage too: between two major
 * collections the old space fills with objects already dead, and V8 lets it
 * fill further after a burst of allocation (a backlog drained) has raised
 * its limit, so a sample of it rises for minutes and falls at once whether
 * or not anything leaks. Just after a major collection the old generation
 * holds what is alive; a leak is that figure rising from collection to
 * collection. The young generation is left out: it is emptied every few
 * milliseconds, and what it held when the observer's callback ran is noise.
 *
 * One observer for the process, started on first use: the heap is the
 * process's, whichever gateway (tests start several) reports it.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";

const YOUNG_SPACES = new Set(["new_space", "new_large_object_space"]);

let observer: PerformanceObserver | undefined;
let afterMajorGc = 0;

function oldGenerationInUse(): number {
  let bytes = 0;
  for (const space of getHeapSpaceStatistics()) if (!YOUNG_SPACES.has(space.space_name)) bytes += space.space_used_size;
  return bytes;
}

/** Bytes of the heap outside the young generation just after the last major collection; 0 before the first. */
export function heapAfterMajorGc(): number {
  if (observer === undefined) {
    observer = new PerformanceObserver((list) => {
      const major = list.getEntries().some((entry) => (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
      if (major) afterMajorGc = oldGenerationInUse();
    });
    observer.observe({ entryTypes: ["gc"] });
  }
  return afterMajorGc;
}
