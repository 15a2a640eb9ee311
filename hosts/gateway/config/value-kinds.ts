/*
 * The kinds of value a gateway setting can hold, and how each is checked.
 *
 * A value arrives either typed (from a YAML or JSON file) or as text (an
 * environment variable or a flag). Text is converted first, so "1883" from
 * the environment and 1883 from a file end up the same; a file's string
 * where a number belongs is a type error, except for sizes and durations,
 * whose strings ("512 MiB", "30s") are the readable way to write them.
 */

export type ValueKind =
  | { type: "port" }
  | { type: "integer"; min: number; max: number }
  | { type: "number"; min: number; max: number }
  | { type: "size"; min: number; max: number }
  | { type: "duration"; min: number; max: number }
  | { type: "string" }
  | { type: "path" }
  | { type: "url"; protocols: readonly string[] }
  /** A gRPC target: "host:port", with an IPv6 address in brackets. */
  | { type: "target" }
  | { type: "boolean" }
  | { type: "enum"; values: readonly string[] };

/** A checked value, or the problem as a phrase that follows the key's name ("must be ..."). */
export type Checked = { ok: true; value: unknown } | { ok: false; problem: string };

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "512 MiB" → 536870912; "1.5 GB" → 1500000000; undefined if it is not a size. */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const unit = SIZE_UNITS[(match[2] || "b").toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** "30s" → 30000, "5m" → 300000, "250ms" → 250, "250" → 250; undefined if it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!match) return undefined;
  const ms = Number(match[1]) * DURATION_UNITS[match[2] ?? "ms"];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** How a value is shown in an error: strings quoted, so "" and " " are visible. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object" && value !== null) return "a mapping";
  return String(value);
}

const fail = (problem: string): Checked => ({ ok: false, problem });
const pass = (value: unknown): Checked => ({ ok: true, value });

function inRange(kind: { min: number; max: number }, n: number, what: string, got: unknown): Checked {
  return n >= kind.min && n <= kind.max ? pass(n) : fail(`must be ${what} from ${kind.min} to ${kind.max}, got ${show(got)}`);
}

/** Checks one value; `fromText` says it came from an environment variable or a flag. */
export function checkValue(kind: ValueKind, value: unknown, fromText: boolean): Checked {
  switch (kind.type) {
    case "port": {
      const n = fromText && typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
      if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 65535) return fail(`must be a port number from 0 to 65535, got ${show(value)}`);
      return pass(n);
    }
    case "integer":
    case "number": {
      const n = fromText && typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
      const what = kind.type === "integer" ? "an integer" : "a number";
      if (typeof n !== "number" || !Number.isFinite(n) || (kind.type === "integer" && !Number.isInteger(n))) {
        return fail(`must be ${what} from ${kind.min} to ${kind.max}, got ${show(value)}`);
      }
      return inRange(kind, n, what, value);
    }
    case "size": {
      const n = typeof value === "string" ? parseSize(value) : value;
      if (typeof n !== "number" || !Number.isSafeInteger(n)) return fail(`must be a size in bytes (a number, or a string like "512 MiB" or "2 GB"), got ${show(value)}`);
      return inRange(kind, n, "a size in bytes", value);
    }
    case "duration": {
      const n = typeof value === "string" ? parseDuration(value) : value;
      if (typeof n !== "number" || !Number.isSafeInteger(n)) return fail(`must be a duration in milliseconds (a number, or a string like "30s" or "5m"), got ${show(value)}`);
      return inRange(kind, n, "a duration in ms", value);
    }
    case "string":
    case "path":
      if (typeof value !== "string" || value.trim() === "") return fail(`must be a non-empty string, got ${show(value)}`);
      return pass(value);
    case "url": {
      if (typeof value !== "string") return fail(`must be a URL, got ${show(value)}`);
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return fail(`must be a URL, got ${show(value)}`);
      }
      const names = kind.protocols.map((p) => p.replace(/:$/, ""));
      if (!kind.protocols.includes(url.protocol)) return fail(`must be an ${names.join(" or ")} URL, got ${show(value)}`);
      return pass(value);
    }
    case "boolean": {
      const text = fromText && typeof value === "string" ? value.toLowerCase() : undefined;
      if (typeof value === "boolean") return pass(value);
      if (text === "true" || text === "yes") return pass(true);
      if (text === "false" || text === "no") return pass(false);
      return fail(`must be true or false, got ${show(value)}`);
    }
    case "target": {
      const match = typeof value === "string" ? /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value) : null;
      if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65535) {
        return fail(`must be host:port (e.g. "127.0.0.1:8101" or "[::1]:8101"), got ${show(value)}`);
      }
      return pass(value);
    }
    case "enum":
      if (typeof value !== "string" || !kind.values.includes(value)) {
        return fail(`must be ${kind.values.slice(0, -1).join(", ")} or ${kind.values.at(-1)}, got ${show(value)}`);
      }
      return pass(value);
  }
}
