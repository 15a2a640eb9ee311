/*
 * TLS for gRPC links: PEM files read once at start, so a missing or
 * unreadable file stops the process with an error naming it instead of
 * failing each call later.
 */
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";

/** A client's TLS settings (gateway -> cloud). */
export interface ClientTlsFiles {
  /** PEM CA certificate(s) the server's certificate must chain to; default: the system's roots. */
  caFile?: string;
  /** PEM client certificate (chain) for mutual TLS; needs keyFile. */
  certFile?: string;
  keyFile?: string;
}

/** A server's TLS settings (the reference cloud). */
export interface ServerTlsFiles {
  certFile: string;
  keyFile: string;
  /** When given, clients must present a certificate signed by one of these (mutual TLS). */
  caFile?: string;
}

export class TlsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TlsFileError";
  }
}

export function readPem(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TlsFileError(`${what} ${path} is unreadable: ${(error as Error).message}`);
  }
}

/** `undefined`: plaintext (h2c), as the Akka sample runs on a LAN. */
export function channelCredentials(tls: ClientTlsFiles | undefined, what = "cloud TLS"): grpc.ChannelCredentials {
  if (tls === undefined) return grpc.credentials.createInsecure();
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new TlsFileError(`${what}: certFile and keyFile go together (a client certificate needs its key)`);
  }
  const ca = tls.caFile === undefined ? null : readPem(`${what} caFile`, tls.caFile);
  const key = tls.keyFile === undefined ? null : readPem(`${what} keyFile`, tls.keyFile);
  const cert = tls.certFile === undefined ? null : readPem(`${what} certFile`, tls.certFile);
  try {
    return grpc.credentials.createSsl(ca, key, cert);
  } catch (error) {
    throw new TlsFileError(`${what}: ${(error as Error).message}`);
  }
}

export function serverCredentials(tls: ServerTlsFiles | undefined, what = "TLS"): grpc.ServerCredentials {
  if (tls === undefined) return grpc.ServerCredentials.createInsecure();
  const cert = readPem(`${what} certFile`, tls.certFile);
  const key = readPem(`${what} keyFile`, tls.keyFile);
  const ca = tls.caFile === undefined ? null : readPem(`${what} caFile`, tls.caFile);
  try {
    return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], ca !== null);
  } catch (error) {
    throw new TlsFileError(`${what}: ${(error as Error).message}`);
  }
}
