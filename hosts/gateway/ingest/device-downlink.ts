/*
 * The listener's side of downlink.ts: which sensors can be sent to, who
 * hears when one becomes ready, and where reports go. Sessions are looked
 * up through the listener, which owns them.
 */
import type { Logger } from "../../log/logger.js";
import type { DeviceDownlink } from "./downlink.js";
import type { DeviceSession, ReportHandler } from "./device-session.js";

export class ListenerDownlink implements DeviceDownlink {
  readonly #session: (sensorId: string) => DeviceSession | undefined;
  readonly #maxPacketBytes: number;
  readonly #log: Logger;
  readonly #ready = new Set<(sensorId: string) => void>();
  #report: ReportHandler | undefined;

  constructor(session: (sensorId: string) => DeviceSession | undefined, maxPacketBytes: number, log: Logger) {
    this.#session = session;
    this.#maxPacketBytes = maxPacketBytes;
    this.#log = log;
  }

  send(sensorId: string, payload: Uint8Array): Promise<void> {
    const session = this.#session(sensorId);
    if (session === undefined || session.closed) return Promise.reject(new Error(`${sensorId} has no session`));
    return session.sendDownlink(payload, this.#maxPacketBytes);
  }

  isReady(sensorId: string): boolean {
    const session = this.#session(sensorId);
    return session !== undefined && !session.closed && session.state.subscribed;
  }

  onReady(listener: (sensorId: string) => void): () => void {
    this.#ready.add(listener);
    return () => this.#ready.delete(listener);
  }

  onReport(handler: ReportHandler): void {
    this.#report = handler;
  }

  /** The handler reports go to; without one, reports are refused as any unknown topic (quarantined and acknowledged). */
  get report(): ReportHandler | undefined {
    return this.#report;
  }

  /** A session became subscribed: tell every listener (one that throws is logged, the others still hear). */
  ready(sensorId: string): void {
    for (const listener of [...this.#ready]) {
      try {
        listener(sensorId);
      } catch (e) {
        this.#log.error(`downlink ready listener failed for ${sensorId}: ${(e as Error).message}`, { sensorId, error: e });
      }
    }
  }
}
