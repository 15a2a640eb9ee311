/*
 * A config file's text → the settings it makes, each with its line and
 * column. YAML or JSON by the file's extension (hosts/config-text reads
 * both, keeping the position of every node).
 */
import { isAlias, isMap, isScalar, type Node, type Pair, type YAMLMap } from "yaml";
import { parsePositioned } from "../../config-text/positioned-text.js";
import { didYouMean } from "../../config-text/did-you-mean.js";
import { printableName } from "../../config-text/printable.js";
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

export function readConfigText(fileName: string, text: string): ConfigFileResult {
  const parsed = parsePositioned(fileName, text, { maxDepth: MAX_CONFIG_DEPTH, depthHint: "a config's keys are at most 3 deep (mqtt.tls.certFile)" });
  if (!parsed.ok) return { settings: [], errors: [parsed.error] };
  const doc = parsed.text.document;
  const at = (offset: number): Source => ({ kind: "file", ...parsed.text.at(offset) });
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
        errors.push(`${where(keyAt)}: unknown key ${printableName(path)}${didYouMean(path, KNOWN_NAMES)}`);
      }
    }
  }

  const root = parsed.text.root;
  if (root === null || (isScalar(root) && root.value === null)) return { settings, errors };
  if (!isMap(root)) {
    const value = plain(root);
    return { settings, errors: [value === undefined ? tooManyAliases("", root) : `${where(start(root, 0))}: the file must be a mapping of keys, got ${show(value)}`] };
  }
  walkMap(root, "");
  return { settings, errors };
}
