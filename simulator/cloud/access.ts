/*
 * Who may do what at the reference cloud. Three roles, each with its own
 * bearer tokens:
 *
 *   admin     registers sensors (and may do all the rest)
 *   gateway   follows the registration stream and relays observations in
 *             (it may also read them, as a consumer)
 *   consumer  reads the observations (log, streams, sensor twin) and the
 *             sensor list, and nothing else: neither secrets' digests nor writes
 *
 * On gRPC with client certificates required (--grpc-ca), a verified
 * certificate counts as a gateway credential; a bearer token, when one is
 * presented too, decides instead. A credential that matches no token is
 * refused even with a certificate: a client that sends a wrong token has a
 * fault worth seeing, not a fallback.
 *
 * Pure but for the refusal log: the HTTP and gRPC sides (http-access.ts,
 * grpc/grpc-access.ts) read the presented credential and answer 401/403 or
 * UNAUTHENTICATED/PERMISSION_DENIED.
 */
import { presentedToken, TokenError, TokenSet } from "../../hosts/auth/bearer.js";
import { AuthRefusals, type AuthRefusalReason } from "../../hosts/auth/refusals.js";
import type { Logger } from "../../hosts/log/logger.js";

export const CLOUD_ROLES = ["admin", "gateway", "consumer"] as const;
export type CloudRole = (typeof CLOUD_ROLES)[number];

export type CloudAction = "register" | "registrations.read" | "observations.write" | "observations.read";

export const PERMITTED: Readonly<Record<CloudAction, readonly CloudRole[]>> = Object.freeze({
  register: ["admin"],
  // The registration events carry the secrets' digests: only those who check device logins get them.
  "registrations.read": ["admin", "gateway"],
  "observations.write": ["admin", "gateway"],
  "observations.read": ["admin", "gateway", "consumer"],
});

/** The tokens of each role; a role without tokens is one nobody holds. */
export interface CloudCredentials {
  adminTokens: readonly string[];
  gatewayTokens: readonly string[];
  consumerTokens?: readonly string[];
}

/** What a request presented: its `authorization` header (or metadata), and whether its TLS peer certificate was verified. */
export interface Presentation {
  authorization: string | readonly string[] | undefined;
  verifiedCertificate?: boolean;
}

export type Identity = { ok: true; role: CloudRole } | { ok: false; reason: Exclude<AuthRefusalReason, "forbidden"> };
export type Decision = { ok: true; role: CloudRole } | { ok: false; reason: AuthRefusalReason; message: string };

export interface CloudAccessStats {
  /** Refusals by reason: missing, invalid (401 / UNAUTHENTICATED), forbidden (403 / PERMISSION_DENIED). */
  refused: Record<AuthRefusalReason, number>;
}

/**
 * The roles' token sets, checked: every token long enough, none in two
 * roles (one file given twice would quietly get the higher role's rights),
 * at least one admin token. Throws TokenError naming the problem, never a token.
 */
export function tokenSetsOf(credentials: CloudCredentials): Array<[CloudRole, TokenSet]> {
  const sets: Array<[CloudRole, TokenSet]> = [
    ["admin", new TokenSet(credentials.adminTokens, "admin tokens")],
    ["gateway", new TokenSet(credentials.gatewayTokens, "gateway tokens")],
    ["consumer", new TokenSet(credentials.consumerTokens ?? [], "consumer tokens")],
  ];
  for (const [i, [role, set]] of sets.entries()) {
    for (const [other, otherSet] of sets.slice(i + 1)) if (set.shares(otherSet)) throw new TokenError(`a token is both an ${role} and a ${other} token; give each role its own`);
  }
  if (sets[0][1].size === 0) throw new TokenError("no admin token: the cloud would accept no registration");
  return sets;
}

export class CloudAccess {
  readonly #sets: ReadonlyArray<[CloudRole, TokenSet]>;
  readonly #refusals: AuthRefusals;

  constructor(credentials: CloudCredentials, logger: Logger, now?: () => number) {
    this.#sets = tokenSetsOf(credentials);
    this.#refusals = new AuthRefusals(logger, now);
  }

  /** The role the presentation proves, or why it proves none. Never records a refusal. */
  identify(presented: Presentation): Identity {
    const header = presentedToken(presented.authorization);
    if (header.kind === "malformed") return { ok: false, reason: "invalid" };
    if (header.kind === "none") return presented.verifiedCertificate === true ? { ok: true, role: "gateway" } : { ok: false, reason: "missing" };
    // Every set is asked, so the time taken does not tell which role a token has.
    let role: CloudRole | undefined;
    for (const [name, set] of this.#sets) if (set.has(header.token) && role === undefined) role = name;
    return role === undefined ? { ok: false, reason: "invalid" } : { ok: true, role };
  }

  /**
   * Whether the presentation may do `action`; a refusal is counted and
   * logged (throttled) as `what` from `address`. The message is the one the
   * client gets: it says what is needed, never what was presented.
   */
  decide(action: CloudAction, presented: Presentation, what: string, address: string): Decision {
    const identity = this.identify(presented);
    if (!identity.ok) return this.refuse(identity.reason, what, address);
    if (!PERMITTED[action].includes(identity.role)) return this.refuse("forbidden", what, address, `${identity.role} credential; needs ${PERMITTED[action].join(" or ")}`);
    return identity;
  }

  /** Records a refusal decided elsewhere (e.g. the gRPC interceptor), and words it. */
  refuse(reason: AuthRefusalReason, what: string, address: string, detail?: string): Decision & { ok: false } {
    this.#refusals.refuse(reason, what, address, detail);
    const message =
      reason === "forbidden"
        ? `${what} needs another credential (${detail ?? "this role may not"})`
        : reason === "missing"
          ? `${what} needs a credential: authorization: Bearer <token>`
          : `${what}: the credential matches no token`;
    return { ok: false, reason, message };
  }

  stats(): CloudAccessStats {
    return { refused: this.#refusals.counts() };
  }
}
