/*
 * From a line of a rule's bundle back to its TypeScript source, so a fault
 * is logged as "freezer-alarm.ts:14" rather than a line of generated code.
 * XS's stack frames name a line only (no column), so the first mapping on
 * that line stands for it.
 *
 * Source map v3 mappings: lines separated by ";", segments by ",", each
 * segment up to five Base64 VLQ fields (generated column, source index,
 * source line, source column, name), each relative to the previous
 * segment's (the generated column restarts on each line). Pure.
 */

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGIT = new Map([...BASE64].map((c, i) => [c, i]));

export interface SourceMap {
  sources: string[];
  mappings: string;
}

export interface SourceLine {
  source: string;
  /** 1-based. */
  line: number;
}

/** The VLQ numbers of one segment. */
export function decodeSegment(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const c of segment) {
    const digit = DIGIT.get(c);
    if (digit === undefined) throw new SyntaxError(`source map: bad Base64 VLQ character "${c}"`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) shift += 5;
    else {
      values.push(value & 1 ? -Math.floor(value / 2) : Math.floor(value / 2));
      value = 0;
      shift = 0;
    }
  }
  return values;
}

/** Maps generated lines to source lines: one lookup table built once per bundle. */
export class SourceLines {
  readonly #lines: (SourceLine | undefined)[] = [];

  constructor(map: SourceMap) {
    let source = 0;
    let sourceLine = 0;
    const lines = map.mappings.split(";");
    for (let generated = 0; generated < lines.length; generated++) {
      let first: SourceLine | undefined;
      for (const segment of lines[generated].split(",")) {
        if (segment.length === 0) continue;
        const fields = decodeSegment(segment);
        if (fields.length < 4) continue;
        source += fields[1];
        sourceLine += fields[2];
        first ??= { source: map.sources[source] ?? "?", line: sourceLine + 1 };
      }
      this.#lines.push(first);
    }
  }

  /** The source line of generated line `line` (1-based); undefined where the bundle has no mapping (rollup's own glue). */
  original(line: number): SourceLine | undefined {
    return this.#lines[line - 1];
  }
}

/** The first frame of `stack` in `file` ("at onObservation (freezer.js:12)"), as a line number. */
export function firstFrameLine(stack: string, file: string): number | undefined {
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`\\(${escaped}:(\\d+)\\)`).exec(stack);
  return match ? Number(match[1]) : undefined;
}
