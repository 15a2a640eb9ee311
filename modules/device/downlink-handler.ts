/*
 * What a device does with a message from the gateway: read it, make sure it
 * is newer than the last one applied (QoS 1 may deliver a message twice, and
 * a command such as reboot must not run twice), apply it (settings whole or
 * not at all, or run the command) and report the outcome. The last applied
 * request id is persisted before anything is applied, so a reboot — even
 * the one a reboot command causes — never applies a request again. Reports
 * go through the flash log, so a report survives a reboot as records do.
 */
import type { SettingsRegistry } from "./app-settings.js";
import { OutcomeStatus, readDownlink, DownlinkError, writeOutcome, type Downlink, type OutcomeStatusCode, type SettingValue } from "../downlink/messages.js";
import { CborWriter } from "../observation/cbor-writer.js";

/** Runs a command; a returned string is the report's detail, a throw refuses it with the message. */
export type CommandHandler = (arg: SettingValue | undefined) => string | void;

export interface DownlinkStore {
  get(domain: string, key: string): unknown;
  set(domain: string, key: string, value: string): void;
}

/** Where the last applied request id lives: beside the boot counter and the sequence lease. */
export const STATE_DOMAIN = "xsedge";
export const LAST_REQUEST_KEY = "downlinkId";
/** A report: [16, requestId, status, detail of at most 96 bytes]. */
const REPORT_BYTES = 128;

export interface DownlinkStats {
  applied: number;
  refused: number;
  stale: number;
  /** Messages without a readable request id, so there was nothing to answer. */
  unreadable: number;
}

export interface DownlinkHandlerOptions {
  settings: SettingsRegistry;
  command: (name: string) => CommandHandler | undefined;
  store: DownlinkStore;
  /** Hands a report to the uplink. */
  report: (bytes: Uint8Array) => void;
  trace: (line: string) => void;
}

export class DownlinkHandler {
  readonly stats: DownlinkStats = { applied: 0, refused: 0, stale: 0, unreadable: 0 };
  readonly #o: DownlinkHandlerOptions;
  readonly #writer = new CborWriter(REPORT_BYTES);
  #last: number;

  constructor(options: DownlinkHandlerOptions) {
    this.#o = options;
    const stored = Number(options.store.get(STATE_DOMAIN, LAST_REQUEST_KEY));
    this.#last = Number.isSafeInteger(stored) && stored > 0 ? stored : 0;
  }

  /** The last request applied (or refused): anything not newer is stale. */
  get lastRequestId(): number {
    return this.#last;
  }

  handle(payload: Uint8Array): void {
    let message: Downlink;
    try {
      message = readDownlink(payload);
    } catch (e) {
      if (!(e instanceof DownlinkError)) throw e;
      if (e.requestId === undefined || e.requestId <= this.#last) {
        this.stats.unreadable++;
        this.#o.trace(`${e.message}\n`);
        return;
      }
      this.#settled(e.requestId);
      this.#answer(e.requestId, OutcomeStatus.REFUSED, e.message);
      return;
    }
    if (message.requestId <= this.#last) {
      this.#answer(message.requestId, OutcomeStatus.STALE, `request ${this.#last} or a newer one was applied already`);
      return;
    }
    this.#settled(message.requestId);
    if (message.kind === "set") this.#set(message.requestId, message.settings);
    else this.#command(message.requestId, message.name, message.arg);
  }

  #set(requestId: number, changes: Array<[string, SettingValue]>): void {
    const checked = this.#o.settings.check(changes);
    if ("problem" in checked) return this.#answer(requestId, OutcomeStatus.REFUSED, checked.problem);
    const failures = this.#o.settings.apply(changes, checked.values);
    this.#answer(requestId, OutcomeStatus.APPLIED, failures.length === 0 ? null : `applied; the app's listener failed: ${failures.join("; ")}`);
  }

  #command(requestId: number, name: string, arg: SettingValue | undefined): void {
    const handler = this.#o.command(name);
    if (!handler) return this.#answer(requestId, OutcomeStatus.REFUSED, `${name}: no such command`);
    let detail: string | void;
    try {
      detail = handler(arg);
    } catch (e) {
      return this.#answer(requestId, OutcomeStatus.REFUSED, `${name}: ${(e as Error)?.message ?? String(e)}`);
    }
    this.#answer(requestId, OutcomeStatus.APPLIED, typeof detail === "string" ? detail : null);
  }

  /** Persisted before the request takes effect: after any reboot it is known as done. */
  #settled(requestId: number): void {
    this.#last = requestId;
    this.#o.store.set(STATE_DOMAIN, LAST_REQUEST_KEY, String(requestId));
  }

  #answer(requestId: number, status: OutcomeStatusCode, detail: string | null): void {
    if (status === OutcomeStatus.APPLIED) this.stats.applied++;
    else if (status === OutcomeStatus.REFUSED) this.stats.refused++;
    else this.stats.stale++;
    if (status !== OutcomeStatus.APPLIED) this.#o.trace(`downlink ${requestId} ${status === OutcomeStatus.STALE ? "stale" : "refused"}: ${detail}\n`);
    this.#o.report(writeOutcome(this.#writer, { requestId, status, detail }));
  }
}
