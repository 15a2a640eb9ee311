/*
 * Reading typed fields out of a positioned YAML document, each error
 * pointing at the file, line and column of the value (or of its key, when
 * the value is missing) and naming the field's path:
 *   fleet.yaml:14:12: events[2].at: must be a duration such as 90s, 10m or 1h30m, got "soon"
 * Unknown keys are errors too, with the closest known name suggested.
 */
import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from "yaml";
import { didYouMean } from "../../hosts/config-text/did-you-mean.js";
import { where, type PositionedText } from "../../hosts/config-text/positioned-text.js";

export type Field = { node: Node | null; keyNode?: Node; path: string };

/** A value as an error quotes it: text quoted, nothing named, lists and mappings by kind. */
export const show = (value: unknown): string => (typeof value === "string" ? JSON.stringify(value) : value === null || value === undefined ? "nothing" : Array.isArray(value) ? "a list" : typeof value === "object" ? "a mapping" : String(value));

export class FieldReader {
  readonly errors: string[] = [];
  readonly #text: PositionedText;

  constructor(text: PositionedText) {
    this.#text = text;
  }

  /** Records an error at the field's value (or its key). Returns undefined, for `return reader.error(...)`. */
  error(field: Field, message: string): undefined {
    this.errors.push(`${this.where(field)}: ${field.path}: ${message}`);
    return undefined;
  }

  /** "file:line:col" of the field's value, or of its key when the value has no text of its own. */
  where(field: Field): string {
    const node = field.node && field.node.range && field.node.range[0] !== field.node.range[1] ? field.node : field.keyNode ?? field.node;
    return where(this.#text.start(node, 0));
  }

  root(): Field {
    return { node: this.#text.root, path: "(the file)" };
  }

  value(field: Field): unknown {
    if (!field.node) return undefined;
    return isScalar(field.node) ? field.node.value : field.node.toJSON();
  }

  present(field: Field | undefined): field is Field {
    return field !== undefined && field.node !== null && !(isScalar(field.node) && field.node.value === null);
  }

  /** The mapping's fields by key; unknown keys are reported (with a suggestion) and left out. */
  object(field: Field, known: readonly string[]): Map<string, Field> | undefined {
    const fields = new Map<string, Field>();
    if (!field.node || !isMap(field.node)) return this.error(field, `must be a mapping of ${known.slice(0, 4).join(", ")}${known.length > 4 ? ", ..." : ""}, got ${show(this.value(field))}`);
    for (const pair of (field.node as YAMLMap).items as Pair<unknown, unknown>[]) {
      const keyNode = pair.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : "";
      const path = field.path === "(the file)" ? key : `${field.path}.${key}`;
      if (!known.includes(key)) {
        this.error({ node: keyNode, path }, `unknown key${didYouMean(key, known)}`);
        continue;
      }
      fields.set(key, { node: pair.value as Node | null, keyNode, path });
    }
    return fields;
  }

  list(field: Field): Field[] | undefined {
    if (!field.node || !isSeq(field.node)) return this.error(field, `must be a list, got ${show(this.value(field))}`);
    return field.node.items.map((node, i) => ({ node: node as Node, path: `${field.path}[${i}]` }));
  }

  string(field: Field, check?: { pattern?: RegExp; expected?: string; oneOf?: readonly string[] }): string | undefined {
    const value = this.value(field);
    if (typeof value !== "string" || value === "") return this.error(field, `must be ${check?.oneOf ? `one of ${check.oneOf.join(", ")}` : check?.expected ?? "a text"}, got ${show(value)}`);
    if (check?.oneOf && !check.oneOf.includes(value)) return this.error(field, `must be one of ${check.oneOf.join(", ")}, got ${show(value)}${didYouMean(value, check.oneOf)}`);
    if (check?.pattern && !check.pattern.test(value)) return this.error(field, `must be ${check.expected ?? `like ${check.pattern}`}, got ${show(value)}`);
    return value;
  }

  number(field: Field, range: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
    const value = this.value(field);
    const { min = -Infinity, max = Infinity, integer = false } = range;
    const kind = integer ? "an integer" : "a number";
    const bounds = Number.isFinite(min) && Number.isFinite(max) ? ` from ${min} to ${max}` : Number.isFinite(min) ? ` of at least ${min}` : Number.isFinite(max) ? ` of at most ${max}` : "";
    if (typeof value !== "number" || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) return this.error(field, `must be ${kind}${bounds}, got ${show(value)}`);
    return value;
  }

  boolean(field: Field): boolean | undefined {
    const value = this.value(field);
    if (typeof value !== "boolean") return this.error(field, `must be true or false, got ${show(value)}`);
    return value;
  }

  /** A duration: a number of ms, or text such as 500ms, 90s, 10m, 1h30m, 2d. */
  duration(field: Field, range: { min?: number; max?: number } = {}): number | undefined {
    const value = this.value(field);
    const ms = typeof value === "number" ? value : typeof value === "string" ? parseDuration(value) : undefined;
    const { min = 0, max = 366 * DAY_MS } = range;
    if (ms === undefined || !Number.isFinite(ms)) return this.error(field, `must be a duration such as 90s, 10m or 1h30m, got ${show(value)}`);
    if (ms < min || ms > max) return this.error(field, `must be from ${formatDuration(min)} to ${formatDuration(max)}, got ${show(value)}`);
    return ms;
  }
}

const DAY_MS = 86_400_000;
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS };

/** "1h30m" → 5,400,000; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const match of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(match[1]) * UNITS[match[2]];
  return total;
}

/** 5,400,000 → "1h30m". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = Math.round(ms);
  let text = "";
  for (const [unit, size] of [["d", DAY_MS], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return rest > 0 ? `${text}${rest}ms` : text;
}
