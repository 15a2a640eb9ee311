/*
 * Whether each simulated device got into its gateway, read from what the
 * device itself traces (its MQTT client's "connection refused: <reason>
 * (<code>)" and the app's "connected to gateway"), so `xsedge sim` can say,
 * per device and in total, who was refused and why. Pure.
 */

export type LoginEvent = { kind: "connected" } | { kind: "refused"; code: number; reason: string };

/** The login event a device trace line reports, if any. */
export function loginEventOf(line: string): LoginEvent | undefined {
  const refused = /^mqtt: connection refused: (.*) \((\d+)\)\s*$/.exec(line);
  if (refused) return { kind: "refused", code: Number(refused[2]), reason: refused[1] };
  if (/^connected to gateway /.test(line)) return { kind: "connected" };
  return undefined;
}

export type LoginState = "connecting" | "connected" | { refused: number; reason: string };

/** Per device, the latest login outcome; says which changes are worth a line. */
export class LoginTally {
  readonly #states = new Map<string, LoginState>();

  constructor(sensorIds: readonly string[]) {
    for (const id of sensorIds) this.#states.set(id, "connecting");
  }

  /** Records an event; true when it changes the device's state (a device retrying after the same refusal is not news). */
  record(sensorId: string, event: LoginEvent): boolean {
    const before = this.#states.get(sensorId);
    if (event.kind === "connected") {
      this.#states.set(sensorId, "connected");
      return before !== "connected";
    }
    const same = typeof before === "object" && before.refused === event.code;
    this.#states.set(sensorId, { refused: event.code, reason: event.reason });
    return !same;
  }

  /** "2 devices: 1 connected, 1 refused (CONNACK 5 not authorized: 1)" */
  summary(): string {
    let connected = 0;
    let connecting = 0;
    const refused = new Map<string, number>();
    for (const state of this.#states.values()) {
      if (state === "connected") connected++;
      else if (state === "connecting") connecting++;
      else refused.set(`CONNACK ${state.refused} ${state.reason}`, (refused.get(`CONNACK ${state.refused} ${state.reason}`) ?? 0) + 1);
    }
    const refusedTotal = [...refused.values()].reduce((a, b) => a + b, 0);
    const parts = [`${connected} connected`];
    if (refusedTotal > 0) parts.push(`${refusedTotal} refused (${[...refused].map(([why, n]) => `${why}: ${n}`).join(", ")})`);
    if (connecting > 0) parts.push(`${connecting} not yet connected`);
    return `${this.#states.size} devices: ${parts.join(", ")}`;
  }

  get refused(): number {
    return [...this.#states.values()].filter((s) => typeof s === "object").length;
  }
}
