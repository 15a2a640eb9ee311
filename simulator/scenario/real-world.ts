/*
 * A scenario's world in real time: the fleet on real sockets, and either
 * the real gateway (`xsedge gateway`) in a process of its own with the
 * reference cloud in this one (gateway: spawn), which the scenario can
 * SIGKILL, restart and cut off from its cloud, or a gateway already
 * running (gateway: external), which it only publishes to.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { flagName, KEY_BY_PATH } from "../../hosts/gateway/config/schema.js";
import { oneAddressFleetLimits } from "../../hosts/gateway/ingest/listener-limits.js";
import { createLogger } from "../../hosts/log/logger.js";
import { startCloud, type Cloud } from "../cloud/server.js";
import { FleetEngine, type FleetEvents } from "../fleet/fleet-engine.js";
import type { DeviceSpec } from "../fleet/fleet-device.js";
import { RealNetwork, RealTimeDriver } from "../fleet/realtime-driver.js";
import type { LinkConditions } from "../network/link-conditions.js";
import type { Scenario } from "./scenario-types.js";
import type { World, WorldSummary } from "./world.js";

const CLI = fileURLToPath(new URL("../../hosts/cli/xsedge.js", import.meta.url));
/** How long the gateway may take to start and learn the registrations. */
const GATEWAY_START_MS = 20_000;
/** How long a restarted gateway may take to let go of its port and stop. */
const GATEWAY_STOP_MS = 20_000;
const PROGRESS_MS = 250;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || !address) throw new Error("no free port");
  return address.port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export interface RealWorldOptions {
  registered: ReadonlyArray<{ sensorId: string; secret: string }>;
  onEvent?: (at: number, event: string, detail: Record<string, unknown>) => void;
}

export class RealWorld implements World {
  readonly time = "real";
  gatewayAddress = "127.0.0.1";
  gatewayPort = 0;
  readonly #scenario: Scenario;
  readonly #options: RealWorldOptions;
  readonly #dir = mkdtempSync(join(tmpdir(), "xsedge-scenario-"));
  /** The world's own cloud tokens, made for this run: an admin's to register the devices, the gateway's in a 0600 file. */
  readonly #tokens = { admin: randomBytes(24).toString("hex"), gateway: randomBytes(24).toString("hex") };
  readonly #entries = new Map<string, { firstAt: number; copies: number; readings: Record<string, number> }>();
  #start = Date.now();
  #engine: FleetEngine | undefined;
  #network: RealNetwork | undefined;
  #cloud: Cloud | undefined;
  #cloudPorts = { http: 0, grpc: 0 };
  #httpPort = 0;
  #gateway: ChildProcess | undefined;
  #gatewayExit: Promise<void> | undefined;
  #rateLimitedEarlier = 0;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #counts = { gatewayStarts: 0, gatewayKills: 0, gatewayRestarts: 0, cloudOutages: 0 };

  private constructor(scenario: Scenario, options: RealWorldOptions) {
    this.#scenario = scenario;
    this.#options = options;
  }

  /** Starts the cloud and the gateway (spawn), or checks the address (external). */
  static async create(scenario: Scenario, options: RealWorldOptions): Promise<RealWorld> {
    const world = new RealWorld(scenario, options);
    try {
      if (scenario.gateway.kind === "external") {
        world.gatewayAddress = scenario.gateway.address;
        world.gatewayPort = scenario.gateway.port;
      } else {
        world.#cloudPorts = { http: await freePort(), grpc: await freePort() };
        await world.#startCloud();
        for (const { sensorId, secret } of options.registered) await world.#register(sensorId, secret);
        world.gatewayPort = await freePort();
        world.#httpPort = await freePort();
        await world.startGateway();
      }
    } catch (error) {
      await world.close();
      throw error;
    }
    return world;
  }

  get origin(): number {
    return this.#start;
  }

  get engine(): FleetEngine {
    if (!this.#engine) throw new Error("the fleet has not started");
    return this.#engine;
  }

  async startFleet(specs: DeviceSpec[], events: FleetEvents): Promise<void> {
    this.#network = new RealNetwork(this.#scenario.network, this.#scenario.seed);
    this.#engine = await FleetEngine.start({ devices: specs, driver: new RealTimeDriver(), network: this.#network, workers: this.#scenario.workers, events });
    this.#network.bind(this.#engine);
    this.#start = Date.now();
  }

  now(): number {
    return Date.now() - this.#start;
  }

  schedule(at: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, at - this.now());
    this.#timers.add(timer);
  }

  async runUntil(until: number, progress: (at: number) => void): Promise<void> {
    while (this.now() < until) {
      await sleep(Math.min(PROGRESS_MS, until - this.now()));
      progress(Math.min(until, this.now()));
    }
  }

  async setCloud(up: boolean): Promise<void> {
    if (this.#scenario.gateway.kind !== "spawn") return;
    if (!up && this.#cloud) {
      this.#counts.cloudOutages++;
      const cloud = this.#cloud;
      this.#cloud = undefined;
      await cloud.close();
    } else if (up && !this.#cloud) await this.#startCloud();
    this.#event("cloud", { up });
  }

  async stopGateway(how: "kill" | "restart"): Promise<void> {
    const child = this.#gateway;
    if (!child) return;
    this.#rateLimitedEarlier += (await this.#scrapeRateLimited()) ?? 0;
    if (how === "kill") this.#counts.gatewayKills++;
    else this.#counts.gatewayRestarts++;
    child.kill(how === "kill" ? "SIGKILL" : "SIGTERM");
    const exited = this.#gatewayExit;
    const timer = setTimeout(() => child.kill("SIGKILL"), GATEWAY_STOP_MS);
    await exited;
    clearTimeout(timer);
    this.#gateway = undefined;
    this.#event("gateway.down", { how });
  }

  async startGateway(): Promise<void> {
    if (this.#gateway || this.#scenario.gateway.kind !== "spawn") return;
    const spec = this.#scenario.gateway;
    const args = [
      CLI, "gateway", "--data-dir", join(this.#dir, "gateway"), "--mqtt-port", String(this.gatewayPort), "--http-port", String(this.#httpPort),
      "--cloud-target", `127.0.0.1:${this.#cloudPorts.grpc}`, "--cloud-token-file", this.#gatewayTokenFile(), "--cloud-akka-payload", "observation",
      "--relay-interval-ms", "200", "--relay-retry-max-ms", "2000", "--registration-retry-max-ms", "1000", "--log-level", "error",
      // Every simulated device connects from 127.0.0.1: the per-address caps would otherwise hold the fleet back.
      ...Object.entries(oneAddressFleetLimits(this.#scenario.groups.reduce((n, g) => n + g.count, 0))).flatMap(([key, value]) => [flagName(KEY_BY_PATH.get(`mqtt.${key}`)!)!, String(value)]),
      ...(spec.rateLimitPerSecond === undefined ? [] : ["--rate-limit-per-second", String(spec.rateLimitPerSecond)]),
      ...(spec.rateLimitBurst === undefined ? [] : ["--rate-limit-burst", String(spec.rateLimitBurst)]),
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    this.#gateway = child;
    this.#gatewayExit = new Promise((resolve) => child.once("exit", () => resolve()));
    this.#counts.gatewayStarts++;
    const deadline = Date.now() + GATEWAY_START_MS;
    const wanted = this.#options.registered.map((r) => r.sensorId);
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the gateway exited at start (code ${child.exitCode}): ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`the gateway did not start and learn the registrations within ${GATEWAY_START_MS} ms: ${stderr.trim()}`);
      const known = await this.#registeredAtGateway();
      if (known && wanted.every((id) => known.has(id))) break;
      await sleep(100);
    }
    this.#event("gateway.up", {});
  }

  setDeviceConditions(device: number, conditions: LinkConditions | undefined): void {
    this.#network?.setDeviceConditions(device, conditions);
    this.#network?.conditionsChanged(device);
  }

  async rateLimited(): Promise<number | undefined> {
    if (this.#scenario.gateway.kind !== "spawn") return undefined;
    return this.#rateLimitedEarlier + ((await this.#scrapeRateLimited()) ?? 0);
  }

  entry(sensorId: string, seq: number) {
    return this.#entries.get(`${sensorId}\u0000${seq}`);
  }

  summary(): WorldSummary {
    const bridge = this.#network?.bridge.stats;
    return {
      gateway: { kind: this.#scenario.gateway.kind, ...this.#counts, running: this.#gateway !== undefined },
      cloud: { observations: this.#entries.size, up: this.#cloud !== undefined },
      network: { ...(bridge ?? {}) },
    };
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    await this.#engine?.close();
    if (this.#gateway) {
      this.#gateway.kill("SIGKILL");
      await this.#gatewayExit;
    }
    await this.#cloud?.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #gatewayTokenFile(): string {
    const file = join(this.#dir, "gateway.token");
    writeFileSync(file, `${this.#tokens.gateway}\n`, { mode: 0o600 });
    return file;
  }

  async #startCloud(): Promise<void> {
    this.#cloud = await startCloud({
      credentials: { adminTokens: [this.#tokens.admin], gatewayTokens: [this.#tokens.gateway] },
      host: "127.0.0.1",
      port: this.#cloudPorts.http,
      grpcPort: this.#cloudPorts.grpc,
      dataDir: join(this.#dir, "cloud"),
      logger: createLogger({ component: "scenario-cloud", level: "error", write: () => {} }),
    });
    this.#cloud.onObservation((o) => {
      const key = `${o.sensorId}\u0000${o.seq}`;
      const known = this.#entries.get(key);
      if (known) known.copies++;
      else this.#entries.set(key, { firstAt: this.now(), copies: 1, readings: Object.fromEntries(o.readings.map((r) => [r.quantity, r.value])) });
    });
  }

  async #register(sensorId: string, secret: string): Promise<void> {
    const response = await fetch(`${this.#cloud!.url}/api/v1/sensors`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${this.#tokens.admin}` }, body: JSON.stringify({ sensorId, secret }) });
    if (!response.ok) throw new Error(`registering ${sensorId} at the cloud: HTTP ${response.status} ${await response.text()}`);
  }

  async #registeredAtGateway(): Promise<Set<string> | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.#httpPort}/api/v1/sensors`);
      if (!response.ok) return undefined;
      const body = (await response.json()) as { sensors: Array<{ sensorId: string; registered?: boolean }> };
      return new Set(body.sensors.filter((s) => s.registered !== false).map((s) => s.sensorId));
    } catch {
      return undefined;
    }
  }

  async #scrapeRateLimited(): Promise<number | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.#httpPort}/metrics`);
      if (!response.ok) return undefined;
      const text = await response.text();
      let total = 0;
      for (const name of ["xsedge_outbox_rate_limited_total", "xsedge_outbox_rate_refused_total"]) {
        const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)`, "m").exec(text);
        if (match) total += Number(match[1]);
      }
      return total;
    } catch {
      return undefined;
    }
  }

  #event(event: string, detail: Record<string, unknown>): void {
    this.#options.onEvent?.(this.now(), event, detail);
  }
}
