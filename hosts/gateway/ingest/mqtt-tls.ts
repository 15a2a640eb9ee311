/*
 * The devices' optional MQTT-over-TLS listener settings: certificate files
 * read once at start, so a missing or unreadable file stops the gateway with
 * an error naming it instead of failing each handshake later.
 */
import { readFileSync } from "node:fs";
import { createSecureContext, type TlsOptions } from "node:tls";

export interface MqttTlsOptions {
  /** Interface to bind; default the plain listener's. */
  host?: string;
  /** 8883 is MQTT over TLS's registered port; 0 picks an ephemeral one. */
  port: number;
  /** PEM certificate (chain) the gateway presents. */
  certFile: string;
  /** PEM private key of that certificate. */
  keyFile: string;
  /** PEM CA certificate(s): when given, devices must present a client certificate signed by one (mutual TLS). */
  caFile?: string;
}

/** A device that opens TCP and never finishes the handshake is dropped after this (node's default is 120 s). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

export class TlsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TlsConfigError";
  }
}

function readPem(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TlsConfigError(`mqtt TLS ${option} ${path} is unreadable: ${(error as Error).message}`);
  }
}

/** Reads the files and checks that they make a usable TLS context; throws TlsConfigError naming the culprit. */
export function loadTlsServerOptions(options: MqttTlsOptions): TlsOptions {
  const cert = readPem("certFile", options.certFile);
  const key = readPem("keyFile", options.keyFile);
  const ca = options.caFile === undefined ? undefined : readPem("caFile", options.caFile);
  const tls: TlsOptions = { cert, key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS };
  if (ca) Object.assign(tls, { ca, requestCert: true, rejectUnauthorized: true });
  try {
    createSecureContext(tls);
  } catch (error) {
    const files = [options.certFile, options.keyFile, options.caFile].filter((f) => f !== undefined).join(", ");
    throw new TlsConfigError(`mqtt TLS: ${files} do not make a usable certificate and key: ${(error as Error).message}`);
  }
  return tls;
}
