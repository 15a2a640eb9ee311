/*
 * A throwaway certificate authority, a server certificate for 127.0.0.1 and
 * a client certificate, made by openssl in a test's temp dir.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { peerProgram } from "../peer-programs.js";

export interface TestPki { caFile: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string }

const NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function makeTestPki(dir: string): TestPki {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync(peerProgram("openssl"), args, { stdio: "ignore" });
  openssl("req", "-x509", ...NEW_KEY, "-days", "1", "-subj", "/CN=xsedge test CA", "-keyout", file("ca.key"), "-out", file("ca.pem"));
  const issue = (name: string, subject: string, extensions: string) => {
    writeFileSync(file(`${name}.ext`), extensions + "\n");
    openssl("req", ...NEW_KEY, "-subj", subject, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`));
    openssl("x509", "-req", "-in", file(`${name}.csr`), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial",
      "-days", "1", "-extfile", file(`${name}.ext`), "-out", file(`${name}.pem`));
  };
  issue("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  issue("client", "/CN=xsedge-gateway", "extendedKeyUsage=clientAuth");
  return { caFile: file("ca.pem"), serverCert: file("server.pem"), serverKey: file("server.key"), clientCert: file("client.pem"), clientKey: file("client.key") };
}
