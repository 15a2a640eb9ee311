/*
 * The machine every fleet worker starts from: an xsnap snapshot of XS with
 * the fleet runtime installed and the app bundles compiled, written once by
 * a template worker, so N workers start without parsing anything.
 *
 * The snapshot also carries the machine's creation parameters, and that is
 * the one place where a fleet worker's heap growth can be set: xsnap-worker
 * hard-codes growing the slot heap by 128 Ki slots (4 MiB) and the chunk
 * heap by 4 MiB, and XS collects before it grows. A worker holding
 * thousands of devices has a live heap of gigabytes, so with increments
 * that small every few hundred kilobytes allocated would mark the whole
 * heap again: booting 1,000 devices took 32 s of CPU, and running them 733
 * µs per device-second. Increments sized to the fleet make collections rare
 * (measured: 4.9 s and 205 µs), and a heap that starts at the fleet's size
 * boots it without growing at all. The creation record's layout is XS 13's
 * (xsAll.h, struct sxCreation: twelve 32-bit integers) and is checked
 * before anything is changed.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { XsnapWorker } from "./xsnap-worker.js";

/** XS's txCreation fields, in the order xsAll.h declares them. */
const CREATION_FIELDS = [
  "initialChunkSize", "incrementalChunkSize", "initialHeapCount", "incrementalHeapCount", "stackCount",
  "initialKeyCount", "incrementalKeyCount", "nameModulo", "symbolModulo", "parserBufferSize", "parserTableModulo", "staticSize",
] as const;
export type CreationField = (typeof CREATION_FIELDS)[number];
export type Creation = Record<CreationField, number>;

/** The XS version whose snapshot layout this file knows (xsCommon.h). */
const XS_MAJOR = 13;
const XS_MINOR = 3;

export class SnapshotFormatError extends Error {
  constructor(message: string) {
    super(`xsnap snapshot: ${message}`);
    this.name = "SnapshotFormatError";
  }
}

/** Finds the creation record: atoms are [u32 big-endian size][four-character tag][body], inside an "XS_M" atom. */
function creationOffset(snapshot: Uint8Array): number {
  const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
  const tag = (at: number) => String.fromCharCode(...snapshot.subarray(at + 4, at + 8));
  if (snapshot.byteLength < 16 || tag(0) !== "XS_M") throw new SnapshotFormatError("no XS_M header");
  for (let at = 8; at + 8 <= snapshot.byteLength;) {
    const size = view.getUint32(at);
    if (size < 8) throw new SnapshotFormatError(`atom ${tag(at)} of ${size} bytes`);
    if (tag(at) === "VERS" && (snapshot[at + 8] !== XS_MAJOR || snapshot[at + 9] !== XS_MINOR)) {
      throw new SnapshotFormatError(`XS ${snapshot[at + 8]}.${snapshot[at + 9]}, this simulator knows ${XS_MAJOR}.${XS_MINOR}`);
    }
    if (tag(at) === "CREA") {
      if (size < 8 + 4 * CREATION_FIELDS.length) throw new SnapshotFormatError(`creation record of ${size} bytes`);
      return at + 8;
    }
    at += size;
  }
  throw new SnapshotFormatError("no creation record");
}

export function readCreation(snapshot: Uint8Array): Creation {
  const at = creationOffset(snapshot);
  const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
  return Object.fromEntries(CREATION_FIELDS.map((field, i) => [field, view.getInt32(at + 4 * i, true)])) as Creation;
}

/** Sets creation parameters in a snapshot's bytes (in place). */
export function patchCreation(snapshot: Uint8Array, changes: Partial<Creation>): void {
  const at = creationOffset(snapshot);
  const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
  CREATION_FIELDS.forEach((field, i) => {
    const value = changes[field];
    if (value === undefined) return;
    if (!Number.isInteger(value) || value <= 0 || value > 0x7fffffff) throw new RangeError(`${field} must be a positive 32-bit integer, got ${value}`);
    view.setInt32(at + 4 * i, value, true);
  });
}

export interface HeapGrowth {
  /** Slots the machine starts with (32 bytes each on a 64-bit host): the fleet's, so booting it grows nothing. */
  initialSlots: number;
  /** Slots the heap grows by when a collection frees too few. */
  slots: number;
  /** Bytes of chunk heap (strings, arrays, buffers, code) it starts with; pages are resident only once used. */
  initialChunkBytes: number;
  chunkBytes: number;
}

/** Live slots per running device, measured (3,370 for the app's module instances, 4,990 running). */
const SLOTS_PER_DEVICE = 5000;
/** Chunk bytes per running device, its 64 KB flash chip included: less than this (120 KB) and booting 1,000 grows the heap. */
const CHUNK_BYTES_PER_DEVICE = 150 * 1024;
/**
 * Room to allocate in between collections, as a share of what the devices
 * hold. Each collection marks every device's heap, so the share is what a
 * device's samples cost in CPU: measured with 1,000 devices (TMP117, SHT3x
 * and BME280 in turn) in one worker, not connected, 0.25 costs 824 µs per
 * device-second and 654 KiB of resident memory per device, 1 costs 342 µs
 * and 841 KiB, 2 costs 293 µs and 1,170 KiB. CPU is what bounds a fleet in
 * real time (10,000 devices at 1 take some 8 GB): 1.
 */
const HEADROOM = 1;

/** The heap for a worker of `devices` devices: what they hold and HEADROOM more, never less than xsnap's defaults. */
export function heapGrowthFor(devices: number): HeapGrowth {
  const clamp = (value: number, low: number, high: number) => Math.round(Math.min(high, Math.max(low, value)));
  const slots = devices * SLOTS_PER_DEVICE;
  const chunks = devices * CHUNK_BYTES_PER_DEVICE;
  return {
    initialSlots: clamp(slots * (1 + HEADROOM), 256 * 1024, 0x7fffffff / 32),
    slots: clamp(slots * HEADROOM, 128 * 1024, 16 * 1024 * 1024),
    initialChunkBytes: clamp(chunks * (1 + HEADROOM), 32 * 1024 * 1024, 0x7fffffff),
    chunkBytes: clamp(chunks * HEADROOM, 4 * 1024 * 1024, 512 * 1024 * 1024),
  };
}

/**
 * Writes the snapshot a fleet worker starts from: `setup` runs in a fresh
 * template worker (install the runtime, compile the bundles), then the
 * machine is written to `path` with the heap growth set.
 */
export async function writeFleetSnapshot(path: string, growth: HeapGrowth, setup: (worker: XsnapWorker) => Promise<void>): Promise<void> {
  const template = new XsnapWorker({ name: "xsedge-fleet-template", onQuery: () => new Uint8Array([0]) });
  try {
    await setup(template);
    await template.writeSnapshot(path);
  } finally {
    await template.close();
  }
  const bytes = readFileSync(path);
  const written = readCreation(bytes);
  patchCreation(bytes, {
    // Never below what the snapshot holds: the restored heap must fit it.
    initialHeapCount: Math.max(written.initialHeapCount, growth.initialSlots),
    incrementalHeapCount: growth.slots,
    initialChunkSize: Math.max(written.initialChunkSize, growth.initialChunkBytes),
    incrementalChunkSize: growth.chunkBytes,
  });
  writeFileSync(path, bytes);
}
