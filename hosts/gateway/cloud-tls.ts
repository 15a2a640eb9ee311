/*
 * TLS material for the gateway's cloud links over node's TLS (HTTPS
 * observations, the HTTPS registration stream, MQTT over TLS): the PEM files
 * are read and parsed once, at construction, so a missing or broken file
 * stops the gateway with an error naming it, rather than failing every
 * request later. gRPC links use hosts/grpc/tls.ts, whose shapes these share.
 */
import { createSecureContext } from "node:tls";
import { readPem, TlsFileError, type ClientTlsFiles } from "../grpc/tls.js";

export type { ClientTlsFiles };

/** The options node's https/tls (and MQTT.js) take; absent fields mean the system's CAs and no client certificate. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Parses `pem` as node would on connect, so a file that is not PEM is named now. */
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
    check(`${what} caFile`, tls.caFile, { ca: material.ca });
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
