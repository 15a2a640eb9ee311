/*
 * CBOR records against JSON: bytes per observation, and the time to encode
 * and decode one, under Node and under XS (an xsnap-worker, its meter's
 * computrons and time per call). The CBOR side is the device's encoder
 * (writeObservation into one reused writer) and the gateway's decoder
 * (cbor-x, then every check of the record); the baseline is JSON.stringify
 * of the same observation already in JSON's shape, and JSON.parse of it
 * (no checks), in the same process or worker, in the same run.
 */
import { rollup } from "@rollup/wasm-node";
import { nodeResolve } from "@rollup/plugin-node-resolve";
import { fileURLToPath } from "node:url";
import { BatchWriter } from "../modules/observation/batch-writer.js";
import { CborWriter } from "../modules/observation/cbor-writer.js";
import { decodeUplinkRecord } from "../modules/observation/record-decoder.js";
import { MAX_RECORD_BYTES, writeObservation } from "../modules/observation/record.js";
import { XsnapWorker } from "../simulator/engine/xsnap-worker.js";
import { median } from "./median.js";
import { PARTS, asJson, sample } from "./samples.js";

const XS_ENTRY = fileURLToPath(new URL("./xs/codec-bench.js", import.meta.url));
/** Operations per timed batch under Node, and batches per figure (their median is taken). */
const NODE_OPS = 20_000;
const NODE_BATCHES = 7;
/** Operations per call under XS (no JIT: fewer suffice), and calls per figure. */
const XS_OPS = 5_000;
const XS_CALLS = 5;

export interface CodecBytes {
  part: string;
  record: number;
  /** One observation's share of a batch record of 10 samples. */
  batched: number;
  json: number;
}

/** Per operation: Node in ns; XS in computrons (xsnap's meter) and ns (its timestamps). */
export interface CodecTimes {
  part: string;
  node: { encode: number; stringify: number; decode: number; parse: number };
  xsComputrons: { encode: number; stringify: number; decode: number; parse: number };
  xsNs: { encode: number; stringify: number; decode: number; parse: number };
}

export function codecBytes(): CodecBytes[] {
  const writer = new CborWriter(MAX_RECORD_BYTES);
  return Object.keys(PARTS).map((part) => {
    const batch = new BatchWriter();
    for (let n = 0; n < 10; n++) batch.add(sample(part, n));
    return {
      part,
      record: writeObservation(writer, sample(part, 0)).length,
      batched: batch.finish().length / 10,
      json: Buffer.byteLength(asJson(sample(part, 0))),
    };
  });
}

function nodeNs(work: (n: number) => number): number {
  work(NODE_OPS); // warm-up: the figure is for optimised code
  const batches: number[] = [];
  let sink = 0;
  for (let b = 0; b < NODE_BATCHES; b++) {
    const t0 = process.hrtime.bigint();
    sink += work(NODE_OPS);
    batches.push(Number(process.hrtime.bigint() - t0) / NODE_OPS);
  }
  if (!Number.isFinite(sink)) throw new Error("codec bench: the work returned nothing");
  return median(batches);
}

function nodeTimes(part: string): CodecTimes["node"] {
  const obs = sample(part, 1234);
  const json = asJson(obs);
  const shape = JSON.parse(json);
  const writer = new CborWriter(MAX_RECORD_BYTES);
  const record = writeObservation(writer, obs).slice();
  return {
    encode: nodeNs((n) => { let s = 0; for (let i = 0; i < n; i++) s += writeObservation(writer, obs).length; return s; }),
    stringify: nodeNs((n) => { let s = 0; for (let i = 0; i < n; i++) s += JSON.stringify(shape).length; return s; }),
    decode: nodeNs((n) => { let s = 0; for (let i = 0; i < n; i++) { const r = decodeUplinkRecord(record); if (r.kind === "observation") s += r.observation.seq; } return s; }),
    parse: nodeNs((n) => { let s = 0; for (let i = 0; i < n; i++) s += (JSON.parse(json) as { seq: number }).seq; return s; }),
  };
}

/** The XS side bundled for xsnap: an IIFE with cbor-x and the record code in it. */
async function xsBundle(): Promise<string> {
  const bundle = await rollup({
    input: XS_ENTRY,
    onwarn: () => {},
    plugins: [nodeResolve({ browser: true, exportConditions: ["default", "module", "import"], preferBuiltins: false })],
  });
  try {
    const { output } = await bundle.generate({ format: "iife", sourcemap: false });
    return output[0].code.replace(/^\s*\/\/[#@]\s*sourceMappingURL=.*$/gm, "");
  } finally {
    await bundle.close();
  }
}

async function xsTimes(parts: string[]): Promise<Map<string, { computrons: CodecTimes["xsComputrons"]; ns: CodecTimes["xsNs"] }>> {
  const worker = new XsnapWorker({ name: "codec-bench", onQuery: () => new Uint8Array(0) });
  try {
    await worker.evaluate(await xsBundle());
    const out = new Map<string, { computrons: CodecTimes["xsComputrons"]; ns: CodecTimes["xsNs"] }>();
    for (const part of parts) {
      const computrons = { encode: 0, stringify: 0, decode: 0, parse: 0 };
      const ns = { encode: 0, stringify: 0, decode: 0, parse: 0 };
      for (const op of ["encode", "stringify", "decode", "parse"] as const) {
        const call = `codecBench.${op}(${JSON.stringify(part)}, ${XS_OPS})`;
        await worker.evaluate(call); // warm-up: the first call allocates what later ones reuse
        const c: number[] = [];
        const t: number[] = [];
        for (let i = 0; i < XS_CALLS; i++) {
          const { meter } = await worker.evaluate(call);
          const stamps = (meter as unknown as { timestamps?: number[] }).timestamps ?? [];
          c.push(meter.compute / XS_OPS);
          if (stamps.length >= 2) t.push(((stamps[stamps.length - 1] - stamps[0]) * 1e9) / XS_OPS);
        }
        computrons[op] = median(c);
        ns[op] = median(t);
      }
      out.set(part, { computrons, ns });
    }
    return out;
  } finally {
    await worker.close();
  }
}

export async function codecTimes(): Promise<CodecTimes[]> {
  const parts = Object.keys(PARTS);
  const xs = await xsTimes(parts);
  return parts.map((part) => ({ part, node: nodeTimes(part), xsComputrons: xs.get(part)!.computrons, xsNs: xs.get(part)!.ns }));
}
