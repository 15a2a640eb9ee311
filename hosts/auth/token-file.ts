/*
 * Token files: how tokens reach a process without appearing on its command
 * line (visible to every user in `ps`) or in its environment (inherited by
 * children, shown by /proc/<pid>/environ to the same user). One token a
 * line; blank lines and lines starting with # are ignored, so a file can
 * hold several (one per gateway, say, to revoke one without the others).
 *
 * A missing token file can be created with a fresh random token, 0600, for
 * the processes that mint their own credentials (`xsedge cloud`, `xsedge up`).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { tokenProblem, TokenError } from "./bearer.js";
import { ensurePrivateDir, writePrivateFile } from "./private-file.js";

/** 32 random bytes, base64url: 43 characters, 256 bits. */
export const GENERATED_TOKEN_BYTES = 32;

export function newToken(): string {
  return randomBytes(GENERATED_TOKEN_BYTES).toString("base64url");
}

/** The tokens of a token file's text; each checked, errors naming the line, never its content. */
export function parseTokenText(text: string, what: string): string[] {
  const tokens: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const problem = tokenProblem(line);
    if (problem !== undefined) throw new TokenError(`${what} line ${i + 1}: the token ${problem}`);
    tokens.push(line);
  });
  if (tokens.length === 0) throw new TokenError(`${what} holds no token`);
  return tokens;
}

/** Reads a token file; `what` names it in errors (e.g. "cloud.tokenFile /etc/xsedge/cloud.token"). */
export function readTokenFile(path: string, what = `token file ${path}`): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new TokenError(`${what} is unreadable: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseTokenText(text, what);
}

/** The one token a client sends, from its token file: a file with several is a mistake, not a choice. */
export function readClientToken(path: string, what = `token file ${path}`): string {
  const tokens = readTokenFile(path, what);
  if (tokens.length > 1) throw new TokenError(`${what} holds ${tokens.length} tokens; a client sends one`);
  return tokens[0];
}

/**
 * The tokens of `path`, after writing a new one there (0600, its directory
 * 0700 if created) when the file does not exist. The new file holds the
 * token alone, so `$(cat <file>)` in a shell is the token.
 */
export function loadOrCreateTokenFile(path: string): { tokens: string[]; created: boolean } {
  try {
    return { tokens: readTokenFile(path), created: false };
  } catch (error) {
    if (!(error instanceof TokenError) || !/ENOENT/.test(error.message)) throw error;
  }
  ensurePrivateDir(dirname(path));
  const token = newToken();
  writePrivateFile(path, `${token}\n`);
  return { tokens: [token], created: true };
}
