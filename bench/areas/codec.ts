/*
 * CBOR records against JSON: bytes, and encode/decode time under Node and
 * under XS (codec-figures.ts measures; this file writes it up).
 */
import { figure, type BenchArea, type Figure } from "../bench-area.js";
import { codecBytes, codecTimes, type CodecBytes, type CodecTimes } from "../codec-figures.js";

interface CodecMeasurement {
  bytes: CodecBytes[];
  times: CodecTimes[];
}

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const ns = (n: number) => (n >= 1000 ? `${fixed(n / 1000, 2)} µs` : `${Math.round(n)} ns`);

const codec: BenchArea<CodecMeasurement> = {
  id: "codec",
  order: 20,
  title: "records: CBOR against JSON in bytes, and encode/decode time under Node and XS",
  async measure(context) {
    context.log("bytes; Node and XS (xsnap-worker) timings");
    return { bytes: codecBytes(), times: await codecTimes() };
  },
  figures(m) {
    const out: Figure[] = [];
    for (const b of m.bytes) out.push(figure(`record bytes, ${b.part}`, b.record, "B", { name: "JSON", value: b.json }));
    for (const t of m.times) {
      out.push(figure(`Node encode, ${t.part}`, t.node.encode, "ns", { name: "JSON.stringify", value: t.node.stringify }));
      out.push(figure(`Node decode, ${t.part}`, t.node.decode, "ns", { name: "JSON.parse", value: t.node.parse }));
      out.push(figure(`XS encode, ${t.part}`, t.xsNs.encode, "ns", { name: "JSON.stringify in the same worker", value: t.xsNs.stringify }));
      out.push(figure(`XS decode, ${t.part}`, t.xsNs.decode, "ns", { name: "JSON.parse in the same worker", value: t.xsNs.parse }));
      out.push(figure(`XS encode computrons, ${t.part}`, t.xsComputrons.encode, "computrons", { name: "JSON.stringify", value: t.xsComputrons.stringify }));
    }
    return out;
  },
  report(m) {
    const lines: string[] = [];
    const say = (line = "") => lines.push(line);
    say("## Records: CBOR against JSON");
    say();
    say("One observation of each part as the device's record (CBOR, modules/SPEC.md), as its share of a batch record of 10 samples, and as JSON with units named (the shape of the cloud's JSON API), values at the record's resolution. Baseline: the JSON.");
    say();
    say("| part | record | in a batch of 10, per observation | JSON | record / JSON | batched / JSON |");
    say("|---|---|---|---|---|---|");
    for (const b of m.bytes) say(`| ${b.part} | ${fixed(b.record, 0)} B | ${fixed(b.batched)} B | ${fixed(b.json, 0)} B | **${fixed(b.record / b.json, 3)}** | ${fixed(b.batched / b.json, 3)} |`);
    say();
    say("Time per observation. CBOR: the device's encoder writing into one reused buffer, and the gateway's decoder (cbor-x, then every check of the record: sensor id, seq, quantities, value ranges). Baseline: `JSON.stringify` of the observation already in JSON's shape and `JSON.parse` of its text, with no checks, in the same process (Node) or the same xsnap-worker (XS), in the same run. Under XS the time is the worker's own (its meter's timestamps around each call), beside its computrons, which count bytecode run: XS's JSON is native C, so a computron count flatters it, and the time is the fairer figure.");
    say();
    say("| part | Node encode / stringify | Node decode / parse | XS encode / stringify | XS decode / parse | XS computrons: encode / stringify, decode / parse |");
    say("|---|---|---|---|---|---|");
    for (const t of m.times) {
      say(`| ${t.part} | ${ns(t.node.encode)} / ${ns(t.node.stringify)} = **${fixed(t.node.encode / t.node.stringify, 2)}** | ${ns(t.node.decode)} / ${ns(t.node.parse)} = **${fixed(t.node.decode / t.node.parse, 2)}** | ${ns(t.xsNs.encode)} / ${ns(t.xsNs.stringify)} = **${fixed(t.xsNs.encode / t.xsNs.stringify, 1)}** | ${ns(t.xsNs.decode)} / ${ns(t.xsNs.parse)} = **${fixed(t.xsNs.decode / t.xsNs.parse, 1)}** | ${Math.round(t.xsComputrons.encode)} / ${Math.round(t.xsComputrons.stringify)}, ${Math.round(t.xsComputrons.decode)} / ${Math.round(t.xsComputrons.parse)} |`);
    }
    say();
    const tmp = m.times[0];
    say(`Under Node the record is both smaller and faster than JSON. Under XS it is smaller but slower to make, since JSON there is native code and the record's encoder is interpreted JavaScript: about ${ns(tmp.xsNs.encode)} per TMP117 sample on this machine, and some 10–20 times that on a board (an ESP32 runs XS that much slower), once a second. The bytes are what the device pays for in flash wear and air time; the time is not on any hot path of the device.`);
    say();
    return lines;
  },
};

export default codec;
