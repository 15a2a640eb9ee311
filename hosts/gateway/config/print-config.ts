/*
 * The resolved config as YAML, for `xsedge gateway --print-config`: every
 * key that is set and has an effect (not the embedded broker's defaults
 * beside an external broker), in the schema's order, with where its value
 * came from, and secrets redacted. It loads back as a config file.
 */
import { stringify } from "yaml";
import { CONFIG_SCHEMA } from "./schema.js";
import type { ResolvedConfig } from "./resolve.js";
import { where } from "./source.js";

export const REDACTED = "<redacted>";

/** Keys that have no effect in this config: the embedded broker's defaults beside an external broker. */
function idle(config: ResolvedConfig, path: string): boolean {
  return config.values.has("externalBroker.url") && path.startsWith("mqtt.") && config.sources.get(path)?.kind === "default";
}

export function formatConfig(config: ResolvedConfig): string {
  const lines: string[] = [];
  let open: string[] = [];
  for (const key of CONFIG_SCHEMA) {
    if (!config.values.has(key.path) || idle(config, key.path)) continue;
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
