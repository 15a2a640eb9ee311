/*
 * Who may derive observations for a sensor id: a virtual sensor belongs to
 * the first rule that derives it. A rule may never write rows for a
 * registered device, for a sensor whose rows came from a device, or for
 * another rule's virtual sensor: a rule that tries fails with an "output"
 * fault, before anything of its delivery is committed.
 */
import type { ObservationStore } from "../store/observation-store.js";
import type { SensorRegistry } from "../ingest/sensor-registry.js";

/** Virtual sensors remembered at most; one forgotten is looked up again (one indexed read). */
const MAX_REMEMBERED = 100_000;

export class DerivedSensors {
  readonly #store: ObservationStore;
  readonly #registry: SensorRegistry | undefined;
  readonly #owners = new Map<string, string>();
  /** Sensor ids seen to be devices' (for isDerived; bounded like #owners). */
  readonly #devices = new Set<string>();

  constructor(store: ObservationStore, registry: SensorRegistry | undefined) {
    this.#store = store;
    this.#registry = registry;
  }

  /** Why `rule` may not derive `sensorId`, or null when it may (it then owns it). */
  refusal(rule: string, sensorId: string): string | null {
    const known = this.#owners.get(sensorId);
    if (known === rule) return null;
    if (known !== undefined) return `derived sensor "${sensorId}" belongs to rule "${known}"`;
    if (this.#registry?.isRegistered(sensorId)) return `derived sensor "${sensorId}" is a registered device`;
    const owner = this.#store.rules.ownerOf(sensorId);
    if (owner === null) return `derived sensor "${sensorId}" has observations from a device`;
    if (owner !== undefined && owner !== rule) {
      this.#remember(sensorId, owner);
      return `derived sensor "${sensorId}" belongs to rule "${owner}"`;
    }
    this.#remember(sensorId, rule);
    return null;
  }

  /**
   * Whether a sensor's rows are a rule's (the relay's gate does not hold
   * them: no rule gives verdicts on derived rows). One indexed read the
   * first time a sensor is asked about, then from memory.
   */
  isDerived(sensorId: string): boolean {
    if (this.#owners.has(sensorId)) return true;
    if (this.#devices.has(sensorId)) return false;
    const owner = this.#store.rules.ownerOf(sensorId);
    if (typeof owner === "string") {
      this.#remember(sensorId, owner);
      return true;
    }
    if (owner === null) {
      if (this.#devices.size >= MAX_REMEMBERED) this.#devices.delete(this.#devices.values().next().value as string);
      this.#devices.add(sensorId);
    }
    return false;
  }

  #remember(sensorId: string, rule: string): void {
    if (this.#owners.size >= MAX_REMEMBERED) this.#owners.delete(this.#owners.keys().next().value as string);
    this.#owners.set(sensorId, rule);
  }
}
