/*
 * What a simulated TCP socket has received and the app has not read yet:
 * chunks kept as they arrived and handed out in the sizes the app asks
 * for, as ECMA-419's `read(count)` returns them. Shared by the one-device
 * socket (tcp.ts) and the fleet's (../xs-fleet/device-socket.ts).
 */
export class ReceiveQueue {
  #chunks: Uint8Array[] = [];
  #pending = 0;

  /** Bytes received and not read. */
  get pending(): number {
    return this.#pending;
  }

  /** Keeps a copy of `bytes` (the caller's buffer may be reused). */
  push(bytes: Uint8Array): void {
    this.#chunks.push(bytes.slice());
    this.#pending += bytes.byteLength;
  }

  /** Up to `count` bytes (all of them by default), oldest first; undefined when none are waiting. */
  read(count?: number): ArrayBuffer | undefined {
    if (this.#pending === 0) return undefined;
    const want = Math.min(count ?? this.#pending, this.#pending);
    const out = new Uint8Array(want);
    let filled = 0;
    while (filled < want) {
      const head = this.#chunks[0];
      const take = Math.min(head.byteLength, want - filled);
      out.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.byteLength) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(take);
    }
    this.#pending -= want;
    return out.buffer;
  }
}
