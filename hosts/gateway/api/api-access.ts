/*
 * Who may read the local API. On the loopback interface (the default) it
 * is open, as any local process could read the store's file anyway; on any
 * other address it needs a credential for everything but /healthz (which a
 * supervisor or load balancer probes): a bearer token (`http.token`,
 * `Authorization: Bearer <token>`, or Basic with the token as password,
 * which is what a browser sends after prompting), or a TLS client
 * certificate signed by `http.tls.caFile`. `http.public: true` is the
 * operator's explicit choice to serve a LAN without either. A token given
 * on loopback is required there too.
 *
 * Refusals are 401 with a Basic challenge (so a browser prompts), counted by
 * reason and logged throttled (hosts/auth/refusals.ts), never quoting what
 * was presented.
 */
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { presentedToken, TokenSet } from "../../auth/bearer.js";
import { AuthRefusals, type AuthRefusalReason } from "../../auth/refusals.js";
import { HttpError } from "../../http/http-json.js";
import type { Logger } from "../../log/logger.js";
import { isLoopbackHost } from "../../http/loopback.js";

export { isLoopbackHost };

/** Paths served without a credential: health probes carry none. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(["/healthz"]);
export const API_AUTH_CHALLENGE = 'Basic realm="xsedge gateway", charset="UTF-8"';

export interface ApiTlsFiles {
  certFile: string;
  keyFile: string;
  /** Clients may present a certificate this CA signed; one that does counts as a credential. */
  caFile?: string;
}

export interface ApiAccessOptions {
  /** Tokens any of which opens every path (several: one per operator or program). */
  tokens?: readonly string[];
  /** Serve a non-loopback address without a credential. */
  public?: boolean;
  tls?: ApiTlsFiles;
}

export class ApiExposureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ApiExposureError";
  }
}

/** Throws unless serving `host` with these options is guarded, or explicitly public. */
export function checkApiExposure(host: string, options: ApiAccessOptions): void {
  const guarded = (options.tokens?.length ?? 0) > 0 || options.tls?.caFile !== undefined;
  if (options.public === true && guarded) throw new ApiExposureError("http.public serves without credentials, yet a token or a client CA is set: choose one");
  if (isLoopbackHost(host) || guarded || options.public === true) return;
  throw new ApiExposureError(
    `http.host ${host} is not a loopback address: set http.token or http.tokenFile (or http.tls.caFile for client certificates), or http.public: true to serve it without credentials`,
  );
}

export class ApiAccess {
  readonly #tokens: TokenSet;
  readonly #clientCertificates: boolean;
  readonly #refusals: AuthRefusals;

  constructor(options: ApiAccessOptions, logger: Logger) {
    this.#tokens = new TokenSet(options.tokens ?? [], "http tokens");
    this.#clientCertificates = options.tls?.caFile !== undefined;
    this.#refusals = new AuthRefusals(logger);
  }

  /** Whether any path but the public ones needs a credential. */
  get guarded(): boolean {
    return this.#tokens.size > 0 || this.#clientCertificates;
  }

  /** Throws the 401 (counted and logged) unless the request may read `pathname`. */
  authorize(req: IncomingMessage, pathname: string): void {
    if (!this.guarded || PUBLIC_PATHS.has(pathname)) return;
    if (this.#clientCertificates && (req.socket as TLSSocket).authorized === true) return;
    const presented = presentedToken(req.headers.authorization);
    if (presented.kind === "token" && this.#tokens.has(presented.token)) return;
    const reason: AuthRefusalReason = presented.kind === "none" ? "missing" : "invalid";
    this.#refusals.refuse(reason, `${req.method} ${pathname}`, req.socket.remoteAddress ?? "unknown");
    const needed = this.#tokens.size > 0 ? "authorization: Bearer <token> (or Basic with the token as password)" : "a client certificate";
    throw new HttpError(401, reason === "missing" ? `${pathname} needs a credential: ${needed}` : `${pathname}: the credential matches no token`, { "www-authenticate": API_AUTH_CHALLENGE }, true);
  }

  /** Refusals by reason (forbidden stays 0: every credential opens every path). */
  refused(): Record<AuthRefusalReason, number> {
    return this.#refusals.counts();
  }
}
