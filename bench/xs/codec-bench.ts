/*
 * The codec bench's XS side: bundled by codec-figures.ts with rollup and
 * evaluated in an xsnap-worker, where each call's computrons and time come
 * back in the worker's meter. It puts `codecBench` on globalThis; each
 * method repeats one operation n times on a part's sample and returns a
 * number so the work cannot be skipped. No Node APIs (this runs on XS).
 */
import { CborWriter } from "../../modules/observation/cbor-writer.js";
import { MAX_RECORD_BYTES, writeObservation } from "../../modules/observation/record.js";
import { decodeUplinkRecord } from "../../modules/observation/record-decoder.js";
import { PARTS, asJson, sample } from "../samples.js";

const writer = new CborWriter(MAX_RECORD_BYTES);
const samples: Record<string, { obs: ReturnType<typeof sample>; record: Uint8Array; json: string; jsonShape: unknown }> = {};
for (const part of Object.keys(PARTS)) {
  const obs = sample(part, 1234);
  const json = asJson(obs);
  samples[part] = { obs, record: writeObservation(writer, obs).slice(), json, jsonShape: JSON.parse(json) };
}

const codecBench = {
  /** The device's encoder, into one reused writer, as on the device. */
  encode(part: string, n: number): number {
    const { obs } = samples[part];
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += writeObservation(writer, obs).length;
    return bytes;
  },
  stringify(part: string, n: number): number {
    const { jsonShape } = samples[part];
    let chars = 0;
    for (let i = 0; i < n; i++) chars += JSON.stringify(jsonShape).length;
    return chars;
  },
  /** The gateway's decoder (cbor-x and the record's checks). */
  decode(part: string, n: number): number {
    const { record } = samples[part];
    let seqs = 0;
    for (let i = 0; i < n; i++) {
      const decoded = decodeUplinkRecord(record);
      if (decoded.kind === "observation") seqs += decoded.observation.seq;
    }
    return seqs;
  },
  parse(part: string, n: number): number {
    const { json } = samples[part];
    let seqs = 0;
    for (let i = 0; i < n; i++) seqs += (JSON.parse(json) as { seq: number }).seq;
    return seqs;
  },
};

(globalThis as unknown as { codecBench: typeof codecBench }).codecBench = codecBench;
