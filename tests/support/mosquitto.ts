/*
 * A real mosquitto for tests: its own config, password file and persistence
 * in a temp dir, on a free loopback port, with the ACL the project ships
 * (hosts/gateway/mosquitto/xsedge.acl) plus any extra lines a test needs.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { peerProgram } from "./peer-programs.js";
import { freePort, tempDir, within } from "./test-helpers.js";

// Tests run from dist/tests/support; the ACL is a source file.
const SHIPPED_ACL = fileURLToPath(new URL("../../../hosts/gateway/mosquitto/xsedge.acl", import.meta.url));

export interface MosquittoUser { username: string; password: string }

/** A second listener, with TLS: the broker's certificate and, for mutual TLS, the CA its clients' certificates must chain to. */
export interface MosquittoTls {
  certFile: string;
  keyFile: string;
  caFile: string;
  /** Clients must present a certificate signed by caFile. */
  requireCertificate?: boolean;
}

export class Mosquitto {
  readonly port: number;
  /** The TLS listener's port, when started with `tls`. */
  tlsPort: number | undefined;
  readonly #dir: ReturnType<typeof tempDir>;
  readonly #conf: string;
  #process: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  /** mosquitto's own log, for a failing test's message. */
  output = "";

  private constructor(port: number, dir: ReturnType<typeof tempDir>, conf: string) {
    this.port = port;
    this.#dir = dir;
    this.#conf = conf;
  }

  static async start(users: MosquittoUser[], extraAcl = "", tls?: MosquittoTls): Promise<Mosquitto> {
    // Looked up first: a machine without mosquitto fails here, with the package to install.
    const passwdProgram = peerProgram("mosquitto_passwd");
    peerProgram("mosquitto");
    const dir = tempDir("mosquitto");
    const passwd = join(dir.path, "passwd");
    users.forEach(({ username, password }, i) =>
      execFileSync(passwdProgram, [...(i === 0 ? ["-c"] : []), "-b", passwd, username, password], { stdio: "ignore" }));
    const acl = join(dir.path, "acl");
    writeFileSync(acl, readFileSync(SHIPPED_ACL, "utf8") + "\n" + extraAcl + "\n");
    const port = await freePort();
    const tlsPort = tls ? await freePort() : undefined;
    const conf = join(dir.path, "mosquitto.conf");
    writeFileSync(conf, [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous false",
      `password_file ${passwd}`,
      `acl_file ${acl}`,
      "persistence true",
      `persistence_location ${dir.path}/`,
      "max_queued_messages 0",
      "log_dest stdout",
      // As root, mosquitto would otherwise switch to user "mosquitto", who cannot read the temp dir.
      ...(process.getuid?.() === 0 ? ["user root"] : []),
      // Listener options follow their listener line, so this block comes last.
      ...(tls ? [
        `listener ${tlsPort} 127.0.0.1`,
        `certfile ${tls.certFile}`,
        `keyfile ${tls.keyFile}`,
        `cafile ${tls.caFile}`,
        `require_certificate ${tls.requireCertificate ? "true" : "false"}`,
      ] : []),
    ].join("\n") + "\n");
    const broker = new Mosquitto(port, dir, conf);
    broker.tlsPort = tlsPort;
    await broker.restart();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get tlsUrl(): string {
    if (this.tlsPort === undefined) throw new Error("mosquitto was started without tls");
    return `mqtts://127.0.0.1:${this.tlsPort}`;
  }

  /** Starts (again, with its persisted state) and waits until it accepts connections. */
  async restart(): Promise<void> {
    if (this.#process) throw new Error("mosquitto is running");
    const child = spawn(peerProgram("mosquitto"), ["-c", this.#conf], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (d) => (this.output += d));
    child.stderr?.on("data", (d) => (this.output += d));
    this.#process = child;
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
    await within(`mosquitto on port ${this.port}`, (async () => {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`mosquitto exited: ${this.output}`);
        if (await accepts(this.port) && (this.tlsPort === undefined || await accepts(this.tlsPort))) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })());
  }

  /** SIGTERM: mosquitto saves its persistence file and exits. */
  async stop(): Promise<void> {
    const child = this.#process;
    if (!child) return;
    this.#process = undefined;
    if (child.exitCode === null) child.kill("SIGTERM");
    await within("mosquitto to exit", this.#exited);
  }

  async remove(): Promise<void> {
    await this.stop();
    this.#dir.remove();
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
