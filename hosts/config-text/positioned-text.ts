/*
 * A YAML or JSON file's text, parsed so that every node knows its file,
 * line and column: what the gateway's configuration and the simulator's
 * scenarios point their errors at. Both through the `yaml` package (JSON
 * with its JSON schema, so YAML-only syntax is refused in a .json file)
 * because it keeps the position of every node.
 */
import { LineCounter, parseDocument, type Document, type Node } from "yaml";
import { tooDeep } from "./nesting-depth.js";
import { printable } from "./printable.js";

export interface Position {
  file: string;
  line: number;
  col: number;
}

export interface PositionedText {
  /** The document's top node; null for an empty file. */
  root: Node | null;
  /** The parsed document: what its aliases resolve against. */
  document: Document;
  /** Where a character offset of the text is. */
  at(offset: number): Position;
  /** Where a node starts, or `fallback` (an offset) for a node with no text of its own. */
  start(node: Node | null | undefined, fallback: number): Position;
}

export type ParsedText = { ok: true; text: PositionedText } | { ok: false; error: string };

export function where(position: Position): string {
  return `${position.file}:${position.line}:${position.col}`;
}

export interface ParseOptions {
  /** What the file is, for the error about its extension ("a config file"). */
  what?: string;
  /** Nesting refused before parsing (see nesting-depth.ts), and why so little is enough, for the error. */
  maxDepth: number;
  depthHint: string;
}

/** Parses `text` by `fileName`'s extension; a syntax error comes back as one message naming the file, line and column. */
export function parsePositioned(fileName: string, text: string, options: ParseOptions): ParsedText {
  const isJson = /\.json$/i.test(fileName);
  if (!isJson && !/\.ya?ml$/i.test(fileName)) return { ok: false, error: `${fileName}: ${options.what ?? "a config file"} must end in .yaml, .yml or .json` };
  const lines = new LineCounter();
  const at = (offset: number): Position => ({ file: fileName, ...lines.linePos(offset) });
  const deep = tooDeep(text, isJson, options.maxDepth);
  if (deep !== null) {
    lines.addNewLine(0);
    for (let i = text.indexOf("\n"); i !== -1 && i < deep; i = text.indexOf("\n", i + 1)) lines.addNewLine(i + 1);
    return { ok: false, error: `${where(at(deep))}: nested deeper than ${options.maxDepth} levels; ${options.depthHint}` };
  }
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, schema: isJson ? "json" : "core" });
  } catch (error) {
    // The depth check above should leave nothing for this; a parser that recurses anyway must not kill the process.
    if (error instanceof RangeError) return { ok: false, error: `${fileName}: too deeply nested to read (${error.message})` };
    throw error;
  }
  if (isJson) {
    // The yaml package reads JSON leniently (trailing commas); a .json file must be JSON to every other tool too.
    try {
      JSON.parse(text);
    } catch (e) {
      const message = (e as Error).message;
      const offset = / at position (\d+)/.exec(message)?.[1];
      const pos = offset !== undefined ? Number(offset) : (doc.errors[0]?.pos[0] ?? 0);
      return { ok: false, error: `${where(at(pos))}: JSON syntax error: ${printable(message.replace(/ in JSON at position \d+.*$/, ""))}` };
    }
  }
  if (doc.errors.length > 0) {
    // One syntax error usually causes the rest; the first is the one to fix.
    const error = doc.errors[0];
    const message = error.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, "");
    return { ok: false, error: `${where(at(error.pos[0]))}: ${isJson ? "JSON" : "YAML"} syntax error: ${printable(message)}` };
  }
  return {
    ok: true,
    text: {
      root: doc.contents as Node | null,
      document: doc,
      at,
      start: (node, fallback) => at(node?.range?.[0] ?? fallback),
    },
  };
}
