/*
 * Where a setting came from, so that every error can point at it: the
 * file's line and column, the environment variable, or the flag.
 */
export type Source =
  | { kind: "default" }
  | { kind: "file"; file: string; line: number; col: number }
  | { kind: "env"; name: string }
  | { kind: "flag"; name: string };

/** One value for one key, as a source gave it (not yet checked). */
export interface Setting {
  path: string;
  value: unknown;
  source: Source;
}

export function where(source: Source): string {
  switch (source.kind) {
    case "default":
      return "default";
    case "file":
      return `${source.file}:${source.line}:${source.col}`;
    case "env":
    case "flag":
      return source.name;
  }
}

/**
 * An error about one key, worded for where it came from: a flag is named as
 * typed (it spells the key), a variable with its key, a file position first
 * as compilers do.
 */
export function keyError(path: string, source: Source, problem: string): string {
  switch (source.kind) {
    case "flag":
      return `${source.name} ${problem}`;
    case "env":
      return `${source.name} (${path}) ${problem}`;
    case "file":
      return `${where(source)}: ${path} ${problem}`;
    case "default":
      return `${path} (default) ${problem}`;
  }
}
