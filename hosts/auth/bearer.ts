/*
 * Bearer tokens: what a client presents in its `authorization` header (HTTP)
 * or metadata (gRPC), and the set of tokens a server accepts.
 *
 * A server keeps only SHA-256 digests of its tokens and compares a
 * presented token's digest with each of them by timingSafeEqual, all of
 * them every time: digests have one length, so neither an early length
 * check nor the comparison's time says how much of a guess was right, nor
 * which token it was close to. The token itself is never logged or echoed.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Shortest token accepted: 16 characters of base64 are 96 bits, beyond any
 * guessing over a network. Generated tokens have 256 bits (token-file.ts).
 */
export const MIN_TOKEN_LENGTH = 16;
/** Longest: a header line, not a file pasted in by mistake. */
export const MAX_TOKEN_LENGTH = 512;
/** RFC 6750's b64token: what may follow "Bearer " on the wire. */
const TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/;

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenError";
  }
}

/** Why a token cannot be one a server accepts (never quoting it), or undefined when it can. */
export function tokenProblem(token: string): string | undefined {
  if (token.length < MIN_TOKEN_LENGTH) return `is ${token.length} characters, at least ${MIN_TOKEN_LENGTH} are needed`;
  return sendableTokenProblem(token);
}

/**
 * Why a client cannot send `token` in a header, or undefined: the server
 * judges its strength, but a newline in it would end the header line.
 */
export function sendableTokenProblem(token: string): string | undefined {
  if (token.length > MAX_TOKEN_LENGTH) return `is ${token.length} characters, at most ${MAX_TOKEN_LENGTH} are allowed`;
  if (!TOKEN_PATTERN.test(token)) return "may only hold letters, digits and - . _ ~ + / (then = padding)";
  return undefined;
}

/** What the `authorization` header holds, read without judging it. */
export type Presented = { kind: "none" } | { kind: "malformed" } | { kind: "token"; token: string };

/**
 * `Bearer <token>`, or `Basic base64(<any user>:<token>)` so that a browser,
 * which prompts for Basic credentials by itself and sends them on every
 * request (EventSource included, which cannot set headers), can open a
 * dashboard that needs a token.
 */
export function presentedToken(authorization: string | readonly string[] | undefined): Presented {
  if (authorization === undefined || authorization.length === 0) return { kind: "none" };
  if (typeof authorization !== "string") return { kind: "malformed" };
  const match = /^(\S+) +(\S+) *$/.exec(authorization);
  if (match === null) return { kind: "malformed" };
  const scheme = match[1].toLowerCase();
  if (scheme === "bearer") return { kind: "token", token: match[2] };
  if (scheme === "basic") {
    const decoded = Buffer.from(match[2], "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon < 0 ? { kind: "malformed" } : { kind: "token", token: decoded.slice(colon + 1) };
  }
  return { kind: "malformed" };
}

function digestOf(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** The tokens a server accepts for one role, as digests. */
export class TokenSet {
  readonly #digests: Buffer[];

  /** `what` names the tokens' origin in an error ("--admin-token-file /etc/x"), never a token. */
  constructor(tokens: readonly string[], what = "token") {
    this.#digests = tokens.map((token, i) => {
      const problem = tokenProblem(token);
      if (problem !== undefined) throw new TokenError(`${what}: token ${i + 1} ${problem}`);
      return digestOf(token);
    });
  }

  get size(): number {
    return this.#digests.length;
  }

  /** True when a token of `other` is also one of this set's (e.g. one file given for two roles). */
  shares(other: TokenSet): boolean {
    return this.#digests.some((digest) => other.#digests.some((theirs) => digest.equals(theirs)));
  }

  /** True when `token` is one of the set, in time independent of which one and of how close a wrong one is. */
  has(token: string): boolean {
    const candidate = digestOf(token);
    let found = false;
    for (const digest of this.#digests) found = timingSafeEqual(digest, candidate) || found;
    return found;
  }
}

/** `Bearer <token>`, for a client's header or metadata. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}
