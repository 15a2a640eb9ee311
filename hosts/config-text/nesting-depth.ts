// How deep a YAML or JSON file nests, found before it is parsed.

/**
 * Where `text` first nests deeper than `maxDepth`, counting flow brackets
 * outside quotes and comments, and (YAML) block indentation and compact
 * "- - -" sequences; null if it never does. Cheap and iterative, so the
 * parser (recursive) never sees the thousands of levels a hostile or broken
 * file can hold in a few kilobytes.
 */
export function tooDeep(text: string, isJson: boolean, maxDepth: number): number | null {
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
      if (indents.length + dashes > maxDepth) return i;
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
      if (flow + indents.length > maxDepth) return i;
    } else if ((c === "]" || c === "}") && flow > 0) flow--;
  }
  return null;
}
