/*
 * The gateway rules' rows in observations.db (migrations 3 and 4): each rule's
 * active version, offset and state, its history of versions, the device
 * observations it reads, the observations it derives and those it keeps
 * at the gateway. Reached as ObservationStore.rules; the rules subsystem
 * (hosts/gateway/rules/) decides, this file only reads and writes. What a
 * rule commits for a delivery goes through here inside one store
 * transaction; rows it adds or takes out of the outbox go through the
 * store's hooks, so the relay and the figures hear of them as of any other.
 */
import type Database from "better-sqlite3";
import type { Reading, TimedObservation } from "../../../modules/observation/record.js";
import type { StoredObservation } from "./schema.js";

/** What the store does for rows this file adds or takes out of the outbox. */
export interface OutboxHooks {
  /** A row was inserted: staged for the relay, counted. */
  stored(id: number, observation: TimedObservation, receivedAt: number): StoredObservation;
  /** Takes unrelayed rows out of the outbox; returns those it took. */
  keepLocal(ids: readonly number[], at: number): number[];
}

export type VersionStatus = "pending" | "active" | "superseded" | "failed";

export interface RuleRow {
  name: string;
  /** The active version. */
  version: number;
  enabled: boolean;
  /** The id of the last observation the rule finished (its offset). */
  position: number;
  /** The rule's state as JSON; null before its first event. */
  state: string | null;
  disabledReason: string | null;
  updatedAt: number;
}

export interface VersionRow {
  rule: string;
  version: number;
  /** SHA-256 of the bundle, hex. */
  hash: string;
  file: string;
  source: string;
  bundle: string;
  sourceMap: string;
  /** JSON of what loading it declared (its selection, relay, limits, handlers). */
  summary: string;
  deployedAt: number;
  status: VersionStatus;
  /** Why it failed, or where it came from ("rollback to version 2"). */
  detail: string | null;
}

/** A device observation as a rule reads it: its readings still JSON, as stored (a delivery passes them on unparsed). */
export interface RuleInputRow {
  id: number;
  sensor_id: string;
  seq: number;
  time: number | null;
  received_at: number;
  readings: string;
}

interface RuleDbRow {
  name: string;
  version: number;
  enabled: number;
  position: number;
  state: string | null;
  disabled_reason: string | null;
  updated_at: number;
}

interface VersionDbRow {
  rule: string;
  version: number;
  hash: string;
  file: string;
  source: string;
  bundle: string;
  source_map: string;
  summary: string;
  deployed_at: number;
  status: VersionStatus;
  detail: string | null;
}

const toRule = (row: RuleDbRow): RuleRow => ({
  name: row.name, version: row.version, enabled: row.enabled === 1, position: row.position, state: row.state,
  disabledReason: row.disabled_reason, updatedAt: row.updated_at,
});

const toVersion = (row: VersionDbRow): VersionRow => ({
  rule: row.rule, version: row.version, hash: row.hash, file: row.file, source: row.source, bundle: row.bundle,
  sourceMap: row.source_map, summary: row.summary, deployedAt: row.deployed_at, status: row.status, detail: row.detail,
});

type Statement<P extends unknown[], R = unknown> = Database.Statement<P, R>;

export class RuleRows {
  readonly #list: Statement<[], RuleDbRow>;
  readonly #get: Statement<[string], RuleDbRow>;
  readonly #versions: Statement<[string], VersionDbRow>;
  readonly #version: Statement<[string, number], VersionDbRow>;
  readonly #lastVersion: Statement<[string], { v: number | null }>;
  readonly #addVersion: Statement<[string, number, string, string, string, string, string, string, number, VersionStatus, string | null]>;
  readonly #setStatus: Statement<[VersionStatus, string | null, string, number]>;
  readonly #supersede: Statement<[string, number]>;
  readonly #activate: Statement<[string, number, number, string | null, number]>;
  readonly #enable: Statement<[number, string | null, number, string]>;
  readonly #progress: Statement<[number, string, number, string]>;
  readonly #prune: Statement<[string, string, number]>;
  readonly #inputs: Statement<[number, number], RuleInputRow>;
  readonly #newestOf: Statement<[string], { derived_by: string | null }>;
  readonly #interrupted: Statement<[string]>;
  readonly #backlog: Statement<[number, number], { n: number }>;
  readonly #highestSeq: Statement<[string], { seq: number | null }>;
  readonly #insertDerived: Statement<[string, number, number, string, number]>;
  readonly #markDerived: Statement<[number, string]>;
  readonly #hooks: OutboxHooks;

  constructor(db: Database.Database, hooks: OutboxHooks) {
    this.#hooks = hooks;
    this.#highestSeq = db.prepare("SELECT MAX(seq) AS seq FROM observations WHERE sensor_id = ?");
    this.#insertDerived = db.prepare(
      "INSERT INTO observations (sensor_id, seq, boot, uptime_ms, time, time_source, readings, received_at, derived) VALUES (?, ?, 0, 0, ?, 'gateway', ?, ?, 1)",
    );
    this.#markDerived = db.prepare("INSERT INTO rule_derived (id, rule) VALUES (?, ?)");
    this.#list = db.prepare("SELECT * FROM rules ORDER BY name");
    this.#get = db.prepare("SELECT * FROM rules WHERE name = ?");
    this.#versions = db.prepare("SELECT * FROM rule_versions WHERE rule = ? ORDER BY version");
    this.#version = db.prepare("SELECT * FROM rule_versions WHERE rule = ? AND version = ?");
    this.#lastVersion = db.prepare("SELECT MAX(version) AS v FROM rule_versions WHERE rule = ?");
    this.#addVersion = db.prepare(
      "INSERT INTO rule_versions (rule, version, hash, file, source, bundle, source_map, summary, deployed_at, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#setStatus = db.prepare("UPDATE rule_versions SET status = ?, detail = ? WHERE rule = ? AND version = ?");
    this.#supersede = db.prepare("UPDATE rule_versions SET status = 'superseded' WHERE rule = ? AND status = 'active' AND version <> ?");
    this.#activate = db.prepare(
      `INSERT INTO rules (name, version, enabled, position, state, disabled_reason, updated_at) VALUES (?, ?, 1, ?, ?, NULL, ?)
       ON CONFLICT (name) DO UPDATE SET version = excluded.version, enabled = 1, position = excluded.position, state = excluded.state,
         disabled_reason = NULL, updated_at = excluded.updated_at`,
    );
    this.#enable = db.prepare("UPDATE rules SET enabled = ?, disabled_reason = ?, updated_at = ? WHERE name = ?");
    this.#progress = db.prepare("UPDATE rules SET position = ?, state = ?, updated_at = ? WHERE name = ?");
    // Keeps the newest `keep` versions and the active one.
    this.#prune = db.prepare(
      `DELETE FROM rule_versions WHERE rule = ? AND status <> 'active' AND version NOT IN
         (SELECT version FROM rule_versions WHERE rule = ? ORDER BY version DESC LIMIT ?)`,
    );
    // Devices' rows only: a rule never reads what a rule derived (no rule feeds on its own output, no cycles).
    this.#inputs = db.prepare(
      "SELECT id, sensor_id, seq, time, received_at, readings FROM observations WHERE id > ? AND derived IS NULL ORDER BY id LIMIT ?",
    );
    this.#newestOf = db.prepare(
      "SELECT d.rule AS derived_by FROM observations o LEFT JOIN rule_derived d ON d.id = o.id WHERE o.sensor_id = ? ORDER BY o.seq DESC LIMIT 1",
    );
    this.#interrupted = db.prepare("UPDATE rule_versions SET status = 'failed', detail = ? WHERE status = 'pending'");
    this.#backlog = db.prepare("SELECT COUNT(*) AS n FROM (SELECT 1 FROM observations WHERE id > ? AND derived IS NULL LIMIT ?)");
  }

  list(): RuleRow[] {
    return this.#list.all().map(toRule);
  }

  get(name: string): RuleRow | undefined {
    const row = this.#get.get(name);
    return row && toRule(row);
  }

  versions(rule: string): VersionRow[] {
    return this.#versions.all(rule).map(toVersion);
  }

  version(rule: string, version: number): VersionRow | undefined {
    const row = this.#version.get(rule, version);
    return row && toVersion(row);
  }

  /** Records a new version (pending until it is activated or fails); returns its number. */
  addVersion(version: Omit<VersionRow, "version" | "status"> & { status?: VersionStatus }): number {
    const number = (this.#lastVersion.get(version.rule)?.v ?? 0) + 1;
    this.#addVersion.run(
      version.rule, number, version.hash, version.file, version.source, version.bundle, version.sourceMap, version.summary, version.deployedAt,
      version.status ?? "pending", version.detail,
    );
    return number;
  }

  setStatus(rule: string, version: number, status: VersionStatus, detail: string | null): void {
    this.#setStatus.run(status, detail, rule, version);
  }

  /** Makes `version` the rule's active one, from `position` with `state`; the version active before is superseded. */
  activate(rule: string, version: number, position: number, state: string | null, at: number): void {
    this.#supersede.run(rule, version);
    this.#setStatus.run("active", this.version(rule, version)?.detail ?? null, rule, version);
    this.#activate.run(rule, version, position, state, at);
  }

  setEnabled(rule: string, enabled: boolean, reason: string | null, at: number): void {
    this.#enable.run(enabled ? 1 : 0, enabled ? null : reason, at, rule);
  }

  /** The rule finished every observation up to `position`, leaving `state`. */
  progress(rule: string, position: number, state: string, at: number): void {
    this.#progress.run(position, state, at, rule);
  }

  /** Deletes all but the newest `keep` versions (and the active one). */
  prune(rule: string, keep: number): void {
    this.#prune.run(rule, rule, keep);
  }

  /**
   * Stores an observation a rule derived (a virtual sensor has no boot: boot
   * and uptime are 0, its time is the gateway's), numbered after the
   * sensor's highest seq. The caller checked the sensor is the rule's.
   */
  appendDerived(obs: { sensorId: string; readings: Reading[]; time: number }, receivedAt: number, rule: string): StoredObservation {
    const seq = (this.#highestSeq.get(obs.sensorId)?.seq ?? 0) + 1;
    const id = Number(this.#insertDerived.run(obs.sensorId, seq, obs.time, JSON.stringify(obs.readings), receivedAt).lastInsertRowid);
    this.#markDerived.run(id, rule);
    const timed: TimedObservation = { sensorId: obs.sensorId, seq, boot: 0, uptimeMs: 0, readings: obs.readings, time: obs.time, timeSource: "gateway" };
    return this.#hooks.stored(id, timed, receivedAt);
  }

  /** Takes unrelayed rows out of the outbox without relaying them (a rule kept them at the gateway); returns the ids it took. */
  keepLocal(ids: readonly number[], at: number): number[] {
    return this.#hooks.keepLocal(ids, at);
  }

  /** Devices' observations after `id`, oldest first. */
  inputsAfter(id: number, limit: number): RuleInputRow[] {
    return this.#inputs.all(id, limit);
  }

  /** Devices' observations after `id`, counted up to `cap` (a rule's lag; bounded so a long one costs no more). */
  backlog(id: number, cap: number): number {
    return this.#backlog.get(id, cap)?.n ?? 0;
  }

  /**
   * Who the sensor's newest row belongs to: undefined when it has none,
   * null when a device's, else the rule that derived it.
   */
  ownerOf(sensorId: string): string | null | undefined {
    const row = this.#newestOf.get(sensorId);
    return row === undefined ? undefined : row.derived_by;
  }

  /** Versions a deploy left pending when the gateway stopped (or was killed): they never took over. */
  failInterrupted(reason: string): number {
    return this.#interrupted.run(reason).changes;
  }
}
