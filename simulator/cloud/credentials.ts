/*
 * Where the cloud's tokens come from, per role (access.ts): a token file
 * given by flag, else tokens in an environment variable, else, for the
 * admin and gateway roles, a token file in the data directory, created
 * with a fresh random token (0600, in a 0700 directory) on the first start.
 * The consumer role has tokens only when given: no one needs it by default.
 *
 * A careful operator gets a working, closed cloud with no set-up, learns
 * from the log where each token is (never the token itself), and hands the
 * gateway's file to the gateway (cloud.tokenFile). Tokens in the
 * environment suit containers; they are never logged either.
 */
import { join } from "node:path";
import { TokenError } from "../../hosts/auth/bearer.js";
import { loadOrCreateTokenFile, parseTokenText, readTokenFile } from "../../hosts/auth/token-file.js";
import type { CloudCredentials, CloudRole } from "./access.js";

export const CREDENTIALS_DIR = "credentials";
export const TOKEN_ENV: Readonly<Record<CloudRole, string>> = Object.freeze({
  admin: "XSEDGE_CLOUD_ADMIN_TOKEN",
  gateway: "XSEDGE_CLOUD_GATEWAY_TOKEN",
  consumer: "XSEDGE_CLOUD_CONSUMER_TOKEN",
});

/** Where the data directory keeps a generated token of `role`. */
export function defaultTokenFile(dataDir: string, role: "admin" | "gateway"): string {
  return join(dataDir, CREDENTIALS_DIR, `${role}.token`);
}

export interface TokenSource {
  role: CloudRole;
  /** "file" (given), "env", or "generated" (a file in the data directory, created now or on an earlier start). */
  kind: "file" | "env" | "generated";
  /** The file, for "file" and "generated". */
  path?: string;
  /** A generated file written by this start. */
  created?: boolean;
}

export interface CredentialRequest {
  dataDir: string;
  files: Partial<Record<CloudRole, string>>;
  env: Readonly<Record<string, string | undefined>>;
}

/** Throws TokenError (naming the flag, variable or file, never a token) on a bad or conflicting source. */
export function resolveCloudCredentials(request: CredentialRequest): { credentials: CloudCredentials; sources: TokenSource[] } {
  const sources: TokenSource[] = [];
  const tokensOf = (role: CloudRole, flag: string): string[] => {
    const file = request.files[role];
    const envValue = request.env[TOKEN_ENV[role]];
    const fromEnv = envValue !== undefined && envValue !== "";
    if (file !== undefined && fromEnv) throw new TokenError(`${flag} and ${TOKEN_ENV[role]} are both set; give the ${role} tokens one way`);
    if (file !== undefined) {
      sources.push({ role, kind: "file", path: file });
      return readTokenFile(file, `${flag} ${file}`);
    }
    if (fromEnv) {
      sources.push({ role, kind: "env" });
      // Several tokens in one variable are separated by commas or whitespace.
      return parseTokenText(envValue.split(/[,\s]+/).join("\n"), TOKEN_ENV[role]);
    }
    if (role === "consumer") return [];
    const path = defaultTokenFile(request.dataDir, role);
    const { tokens, created } = loadOrCreateTokenFile(path);
    sources.push({ role, kind: "generated", path, created });
    return tokens;
  };
  const credentials: CloudCredentials = {
    adminTokens: tokensOf("admin", "--admin-token-file"),
    gatewayTokens: tokensOf("gateway", "--gateway-token-file"),
    consumerTokens: tokensOf("consumer", "--consumer-token-file"),
  };
  return { credentials, sources };
}

/** "admin tokens from /x (created)", for the start-up log. */
export function describeSource(source: TokenSource): string {
  if (source.kind === "env") return `${source.role} tokens from ${TOKEN_ENV[source.role]}`;
  return `${source.role} tokens from ${source.path}${source.created ? " (created)" : ""}`;
}
