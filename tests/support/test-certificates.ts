/*
 * Certificates for TLS tests, made by openssl in a temp dir: a CA, a server
 * certificate for 127.0.0.1 signed by it, a client certificate signed by it
 * (mutual TLS), and a client certificate from another CA that a server must
 * refuse.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { peerProgram } from "./peer-programs.js";
import { tempDir } from "./test-helpers.js";

export interface TestCertificates {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** Signed by a CA the server does not trust. */
  rogueCertFile: string;
  rogueKeyFile: string;
  remove(): void;
}

function openssl(args: string[]): void {
  execFileSync(peerProgram("openssl"), args, { stdio: "ignore" });
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  openssl(["req", "-x509", ...EC_KEY, "-days", "1", "-subj", `/CN=${name}`, "-keyout", key, "-out", cert]);
  return { cert, key };
}

function makeSigned(dir: string, name: string, ca: { cert: string; key: string }, extensions: string): { cert: string; key: string } {
  const key = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(["req", ...EC_KEY, "-subj", `/CN=${name}`, "-keyout", key, "-out", csr]);
  openssl(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", cert]);
  return { cert, key };
}

export function makeTestCertificates(prefix = "certs"): TestCertificates {
  const dir = tempDir(prefix);
  const ca = makeCa(dir.path, "test-ca");
  const server = makeSigned(dir.path, "server", ca, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  const client = makeSigned(dir.path, "client", ca, "extendedKeyUsage=clientAuth\n");
  const rogueCa = makeCa(dir.path, "rogue-ca");
  const rogue = makeSigned(dir.path, "rogue", rogueCa, "extendedKeyUsage=clientAuth\n");
  return {
    dir: dir.path,
    caFile: ca.cert,
    serverCertFile: server.cert,
    serverKeyFile: server.key,
    clientCertFile: client.cert,
    clientKeyFile: client.key,
    rogueCertFile: rogue.cert,
    rogueKeyFile: rogue.key,
    remove: () => dir.remove(),
  };
}
