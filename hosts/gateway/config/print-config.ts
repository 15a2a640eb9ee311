/*
 * The resolved config as YAML, for `xsedge gateway --print-config`: every
 * key that is set, in the schema's order, with where its value came from,
 * and secrets redacted. It loads back as a config file.
 */
import { stringify } from "yaml";
import { CONFIG_SCHEMA } from "./schema.js";
import type { ResolvedConfig } from "./resolve.js";
import { where } from "./source.js";

export const REDACTED = "<redacted>";

export function formatConfig(config: ResolvedConfig): string {
  const lines: string[] = [];
  let open: string[] = [];
  for (const key of CONFIG_SCHEMA) {
    if (!config.values.has(key.path)) continue;
    const parts = key.path.split(".");
    const sections = parts.slice(0, -1);
    // Open the sections this key needs that the previous key did not.
    let shared = 0;
    while (shared < sections.length && shared < open.length && sections[shared] === open[shared]) shared++;
    for (let depth = shared; depth < sections.length; depth++) lines.push(`${"  ".repeat(depth)}${sections[depth]}:`);
    open = sections;
    const value = key.secret ? REDACTED : config.values.get(key.path);
    const source = config.sources.get(key.path);
    const comment = source ? ` # ${where(source)}` : "";
    lines.push(`${"  ".repeat(sections.length)}${parts.at(-1)}: ${stringify(value).trim()}${comment}`);
  }
  return lines.join("\n") + "\n";
}
