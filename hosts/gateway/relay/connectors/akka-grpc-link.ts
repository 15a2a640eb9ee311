/*
 * When the cloud comes back: after a failed send the connector watches its
 * gRPC channel (asking it to connect whenever it falls idle) and tells its
 * listeners the moment the channel goes from down to READY, so the relay
 * sends again within its channel's reconnect interval rather than after the
 * rest of its own backoff. A channel that never went down (the cloud refused
 * the stream, or did not ack in time) gives no signal: the relay's backoff
 * stays in charge there.
 */
import { connectivityState, type ChannelInterface } from "@grpc/grpc-js";

/** watchConnectivityState needs a deadline; this one only bounds how long one wait lasts before the next. */
const WATCH_SLICE_MS = 5_000;

export class LinkWatcher {
  readonly #channel: ChannelInterface;
  readonly #listeners = new Set<() => void>();
  #watching = false;
  #closed = false;

  constructor(channel: ChannelInterface) {
    this.#channel = channel;
  }

  onLinkUp(listener: () => void): void {
    this.#listeners.add(listener);
  }

  /** A send failed: watch for the channel to come back, unless already watching. */
  watch(): void {
    if (this.#watching || this.#closed) return;
    this.#watching = true;
    let wasDown = false;
    const step = () => {
      if (this.#closed) return;
      // true: an idle channel starts connecting; its reconnect backoff paces the attempts.
      const state = this.#channel.getConnectivityState(true);
      if (state === connectivityState.READY) {
        this.#watching = false;
        if (wasDown) for (const listener of this.#listeners) listener();
        return;
      }
      if (state === connectivityState.SHUTDOWN) return;
      wasDown = true;
      this.#channel.watchConnectivityState(state, Date.now() + WATCH_SLICE_MS, () => step());
    };
    step();
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
  }
}
