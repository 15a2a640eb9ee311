/*
 * A config file's text → the settings it makes, each with its line and
 * column. YAML or JSON by the file's extension, both through the `yaml`
 * package (JSON with its JSON schema, so YAML-only syntax is refused in a
 * .json file) because it keeps the position of every node.
 */
import { isAlias, isMap, isScalar, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from "yaml";
import { didYouMean } from "./did-you-mean.js";
import { KEY_BY_PATH, SECTIONS } from "./schema.js";
import { show } from "./value-kinds.js";
import { where, type Setting, type Source } from "./source.js";

export interface ConfigFileResult {
  settings: Setting[];
  /** Each names the file, line and column. */
  errors: string[];
}

const KNOWN_NAMES = [...KEY_BY_PATH.keys(), ...SECTIONS];
/**
 * Aliases (`*name`) a value may expand to in all: a config file needs a
 * few, and the bound stops a file whose aliases nest ("a billion laughs")
 * from taking the gateway's memory at start.
 */
export const MAX_CONFIG_ALIASES = 100;

/**
 * Nesting a config file may have: the deepest key has three levels
 * (mqtt.tls.certFile), so anything near this is a mistake, and the parser
 * (recursive) must never see the thousands of levels a hostile or broken
 * file can hold in a few kilobytes.
 */
export const MAX_CONFIG_DEPTH = 32;

/**
 * Where `text` first nests deeper than MAX_CONFIG_DEPTH, counting flow
 * brackets outside quotes and comments, and (YAML) block indentation and
 * compact "- - -" sequences; null if it never does. Cheap and iterative.
 */
export function tooDeep(text: string, isJson: boolean): number | null {
  let flow = 0;
  const indents: number[] = [];
  let lineStart = true;
  let indent = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") {
      lineStart = true;
      indent = 0;
      continue;
    }
    if (lineStart && flow === 0 && !isJson) {
      if (c === " ") {
        indent++;
        continue;
      }
      lineStart = false;
      if (c === "#") {
        while (i + 1 < text.length && text[i + 1] !== "\n") i++;
        continue;
      }
      while (indents.length > 0 && indents[indents.length - 1] >= indent) indents.pop();
      indents.push(indent);
      let dashes = 0;
      while (text[i + dashes * 2] === "-" && text[i + dashes * 2 + 1] === " ") dashes++;
      if (indents.length + dashes > MAX_CONFIG_DEPTH) return i;
    }
    lineStart = false;
    if (c === '"' || (c === "'" && !isJson)) {
      // A quoted string: skip to its end (\" in double quotes, '' in single).
      for (i++; i < text.length && text[i] !== c; i++) if (c === '"' && text[i] === "\\") i++;
      continue;
    }
    if (c === "#" && !isJson && (i === 0 || /\s/.test(text[i - 1]))) {
      while (i + 1 < text.length && text[i + 1] !== "\n") i++;
      continue;
    }
    if (c === "[" || c === "{") {
      flow++;
      if (flow + indents.length > MAX_CONFIG_DEPTH) return i;
    } else if ((c === "]" || c === "}") && flow > 0) flow--;
  }
  return null;
}

export function readConfigText(fileName: string, text: string): ConfigFileResult {
  const isJson = /\.json$/i.test(fileName);
  if (!isJson && !/\.ya?ml$/i.test(fileName)) {
    return { settings: [], errors: [`${fileName}: a config file must end in .yaml, .yml or .json`] };
  }
  const lines = new LineCounter();
  const deep = tooDeep(text, isJson);
  if (deep !== null) {
    lines.addNewLine(0);
    for (let i = text.indexOf("\n"); i !== -1 && i < deep; i = text.indexOf("\n", i + 1)) lines.addNewLine(i + 1);
    const { line, col } = lines.linePos(deep);
    return { settings: [], errors: [`${fileName}:${line}:${col}: nested deeper than ${MAX_CONFIG_DEPTH} levels; a config's keys are at most 3 deep (mqtt.tls.certFile)`] };
  }
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, schema: isJson ? "json" : "core" });
  } catch (error) {
    // The depth check above should leave nothing for this; a parser that recurses anyway must not kill the gateway.
    if (error instanceof RangeError) return { settings: [], errors: [`${fileName}: too deeply nested to read (${error.message})`] };
    throw error;
  }
  const at = (offset: number): Source => ({ kind: "file", file: fileName, ...lines.linePos(offset) });
  if (isJson) {
    // The yaml package reads JSON leniently (trailing commas); a .json file must be JSON to every other tool too.
    try {
      JSON.parse(text);
    } catch (e) {
      const message = (e as Error).message;
      const offset = / at position (\d+)/.exec(message)?.[1];
      const pos = offset !== undefined ? Number(offset) : (doc.errors[0]?.pos[0] ?? 0);
      return { settings: [], errors: [`${where(at(pos))}: JSON syntax error: ${message.replace(/ in JSON at position \d+.*$/, "")}`] };
    }
  }
  if (doc.errors.length > 0) {
    // One syntax error usually causes the rest; the first is the one to fix.
    const error = doc.errors[0];
    const message = error.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, "");
    return { settings: [], errors: [`${where(at(error.pos[0]))}: ${isJson ? "JSON" : "YAML"} syntax error: ${message}`] };
  }
  const settings: Setting[] = [];
  const errors: string[] = [];

  const start = (node: Node | null | undefined, fallback: number) => at(node?.range?.[0] ?? fallback);
  // An alias stands for the node it names: `port: *p` is the anchored value, `mqtt: *m` the anchored mapping.
  const deref = (node: Node | null): Node | null => (isAlias(node) ? ((node.resolve(doc) as Node | undefined) ?? null) : node);
  // A node's plain value, aliases expanded (within MAX_CONFIG_ALIASES); undefined when it expands to more.
  const plain = (node: Node): unknown => {
    try {
      return node.toJS(doc, { maxAliasCount: MAX_CONFIG_ALIASES });
    } catch (e) {
      if (e instanceof ReferenceError) return undefined;
      throw e;
    }
  };
  const tooManyAliases = (path: string, node: Node) => `${where(start(node, 0))}: ${path || "the file"} expands to more than ${MAX_CONFIG_ALIASES} aliases`;

  function walkMap(map: YAMLMap, prefix: string): void {
    for (const pair of map.items as Pair<unknown, unknown>[]) {
      const keyNode = pair.key as Node | null;
      const keyAt = start(keyNode, map.range?.[0] ?? 0);
      if (!isScalar(keyNode) || typeof keyNode.value !== "string") {
        errors.push(`${where(keyAt)}: keys must be names, got ${show(isScalar(keyNode) ? keyNode.value : keyNode ? (plain(keyNode) ?? "a key of many aliases") : keyNode)}`);
        continue;
      }
      const path = prefix ? `${prefix}.${keyNode.value}` : keyNode.value;
      const written = pair.value as Node | null;
      const valueNode = deref(written);
      // An empty value ("port:") has no text of its own to point at; its key does.
      const empty = !written || (written.range !== undefined && written.range !== null && written.range[0] === written.range[1]);
      // Errors point where the value is written (the alias), not at the anchor it names.
      const valueAt = empty ? keyAt : start(written, 0);
      if (SECTIONS.has(path)) {
        if (isMap(valueNode)) walkMap(valueNode, path);
        else if (!(isScalar(valueNode) && valueNode.value === null) && valueNode !== null) {
          const value = plain(valueNode);
          errors.push(value === undefined ? tooManyAliases(path, written!) : `${where(valueAt)}: ${path} must be a mapping of its keys, got ${show(value)}`);
        }
      } else if (KEY_BY_PATH.has(path)) {
        const value = valueNode === null ? null : isScalar(valueNode) ? valueNode.value : plain(valueNode);
        if (value === undefined) errors.push(tooManyAliases(path, written!));
        else settings.push({ path, value, source: valueAt });
      } else {
        errors.push(`${where(keyAt)}: unknown key ${path}${didYouMean(path, KNOWN_NAMES)}`);
      }
    }
  }

  const root = doc.contents as Node | null;
  if (root === null || (isScalar(root) && root.value === null)) return { settings, errors };
  if (!isMap(root)) {
    const value = plain(root);
    return { settings, errors: [value === undefined ? tooManyAliases("", root) : `${where(start(root, 0))}: the file must be a mapping of keys, got ${show(value)}`] };
  }
  walkMap(root, "");
  return { settings, errors };
}
