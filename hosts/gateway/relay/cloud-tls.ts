/*
 * TLS material for the gateway's cloud links over node's TLS (HTTPS
 * observations, the HTTPS registration stream, MQTT over TLS): the PEM files
 * are read and parsed once, at construction, so a missing or broken file
 * stops the gateway with an error naming it, rather than failing every
 * request later. gRPC links use hosts/grpc/tls.ts, whose shapes these share.
 */
import { X509Certificate } from "node:crypto";
import { createSecureContext } from "node:tls";
import { readPem, TlsFileError, type ClientTlsFiles } from "../../grpc/tls.js";

export type { ClientTlsFiles };

/** The options node's https/tls (and MQTT.js) take; absent fields mean the system's CAs and no client certificate. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Parses the certificate and key as node would on connect, so a broken file is named now. */
function check(what: string, path: string, material: TlsMaterial): void {
  try {
    createSecureContext(material);
  } catch (error) {
    throw new TlsFileError(`${what} ${path}: ${(error as Error).message}`);
  }
}

/** `what` names the link in errors, e.g. "cloud TLS". Undefined `tls`: undefined (the URL's scheme decides). */
export function readClientTls(tls: ClientTlsFiles | undefined, what: string): TlsMaterial | undefined {
  if (tls === undefined) return undefined;
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new TlsFileError(`${what}: certFile and keyFile go together (a client certificate needs its key)`);
  }
  const material: TlsMaterial = {};
  if (tls.caFile !== undefined) {
    material.ca = readPem(`${what} caFile`, tls.caFile);
    // node ignores what in a CA file is not a certificate, which would leave no CA at all: the first must parse.
    try {
      new X509Certificate(material.ca);
    } catch (error) {
      throw new TlsFileError(`${what} caFile ${tls.caFile}: no PEM certificate in it (${(error as Error).message})`);
    }
  }
  if (tls.certFile !== undefined && tls.keyFile !== undefined) {
    material.cert = readPem(`${what} certFile`, tls.certFile);
    material.key = readPem(`${what} keyFile`, tls.keyFile);
    check(`${what} certFile/keyFile`, `${tls.certFile} + ${tls.keyFile}`, { cert: material.cert, key: material.key });
  }
  return material;
}

/**
 * TLS files with a plaintext URL would be silently unused: the operator meant
 * TLS, so that is refused rather than sending in the clear.
 */
export function checkTlsScheme(url: URL, tls: ClientTlsFiles | undefined, secureProtocol: string, what: string): void {
  if (tls !== undefined && url.protocol !== secureProtocol) {
    throw new RangeError(`${what}: tls is set but the URL is ${url.protocol}// (use ${secureProtocol}//)`);
  }
}

/**
 * A socket or TLS error in words. OpenSSL's message for an alert from the
 * peer is a line of internals; its `reason` ("tlsv1 alert unknown ca") is
 * what an operator can act on, and says the other side refused.
 */
export function describeLinkError(error: Error & { code?: unknown; reason?: unknown }, peer: string, secure = false): string {
  if (typeof error.reason === "string" && /alert/.test(error.reason)) return `TLS refused by the ${peer}: ${error.reason} (${String(error.code)})`;
  let text = typeof error.code === "string" && !error.message.includes(error.code) ? `${error.message} (${error.code})` : error.message;
  // Some servers (node's among them) refuse a client certificate by closing without an alert.
  if (secure && error.code === "ECONNRESET") text += `; a ${peer} that requires a client certificate closes the connection so when it refuses ours`;
  return text;
}
