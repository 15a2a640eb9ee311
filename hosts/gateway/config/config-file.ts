/*
 * A config file's text → the settings it makes, each with its line and
 * column. YAML or JSON by the file's extension (hosts/config-text reads
 * both, keeping the position of every node).
 */
import { isMap, isScalar, type Node, type Pair, type YAMLMap } from "yaml";
import { parsePositioned } from "../../config-text/positioned-text.js";
import { didYouMean } from "../../config-text/did-you-mean.js";
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
 * Nesting a config file may have: the deepest key has three levels
 * (mqtt.tls.certFile), so anything near this is a mistake, and the parser
 * (recursive) must never see the thousands of levels a hostile or broken
 * file can hold in a few kilobytes.
 */
export const MAX_CONFIG_DEPTH = 32;

export function readConfigText(fileName: string, text: string): ConfigFileResult {
  const parsed = parsePositioned(fileName, text, { maxDepth: MAX_CONFIG_DEPTH, depthHint: "a config's keys are at most 3 deep (mqtt.tls.certFile)" });
  if (!parsed.ok) return { settings: [], errors: [parsed.error] };
  const at = (offset: number): Source => ({ kind: "file", ...parsed.text.at(offset) });
  const settings: Setting[] = [];
  const errors: string[] = [];

  const start = (node: Node | null | undefined, fallback: number) => at(node?.range?.[0] ?? fallback);

  function walkMap(map: YAMLMap, prefix: string): void {
    for (const pair of map.items as Pair<unknown, unknown>[]) {
      const keyNode = pair.key as Node | null;
      const keyAt = start(keyNode, map.range?.[0] ?? 0);
      if (!isScalar(keyNode) || typeof keyNode.value !== "string") {
        errors.push(`${where(keyAt)}: keys must be names, got ${show(isScalar(keyNode) ? keyNode.value : keyNode?.toJSON())}`);
        continue;
      }
      const path = prefix ? `${prefix}.${keyNode.value}` : keyNode.value;
      const valueNode = pair.value as Node | null;
      // An empty value ("port:") has no text of its own to point at; its key does.
      const empty = !valueNode || (valueNode.range !== undefined && valueNode.range !== null && valueNode.range[0] === valueNode.range[1]);
      const valueAt = empty ? keyAt : start(valueNode, 0);
      if (SECTIONS.has(path)) {
        if (isMap(valueNode)) walkMap(valueNode, path);
        else if (!(isScalar(valueNode) && valueNode.value === null) && valueNode !== null) {
          errors.push(`${where(valueAt)}: ${path} must be a mapping of its keys, got ${show(valueNode.toJSON())}`);
        }
      } else if (KEY_BY_PATH.has(path)) {
        settings.push({ path, value: valueNode === null ? null : isScalar(valueNode) ? valueNode.value : valueNode.toJSON(), source: valueAt });
      } else {
        errors.push(`${where(keyAt)}: unknown key ${path}${didYouMean(path, KNOWN_NAMES)}`);
      }
    }
  }

  const root = parsed.text.root;
  if (root === null || (isScalar(root) && root.value === null)) return { settings, errors };
  if (!isMap(root)) return { settings, errors: [`${where(start(root, 0))}: the file must be a mapping of keys, got ${show(root.toJSON())}`] };
  walkMap(root, "");
  return { settings, errors };
}
