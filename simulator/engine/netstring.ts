/*
 * Netstrings (`<length>:<bytes>,`), the framing xsnap-worker speaks on its
 * fds 3 and 4. A pure encoder and an incremental decoder that accepts chunks
 * split anywhere, with a bound on message size so a confused worker cannot
 * make the host buffer without limit.
 */
export const DEFAULT_MAX_NETSTRING_BYTES = 64 * 1024 * 1024;

/** Longest length prefix accepted: the digits of DEFAULT_MAX_NETSTRING_BYTES and then some. */
const MAX_PREFIX_DIGITS = 10;

export function encodeNetstring(...parts: Uint8Array[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  return Buffer.concat([Buffer.from(`${length}:`), ...parts, Buffer.from(",")]);
}

export class NetstringError extends Error {
  constructor(message: string) {
    super(`netstring: ${message}`);
    this.name = "NetstringError";
  }
}

export class NetstringDecoder {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly maxBytes: number;

  constructor(maxBytes = DEFAULT_MAX_NETSTRING_BYTES) {
    this.maxBytes = maxBytes;
  }

  /** Adds a chunk and returns every message now complete, in order. */
  push(chunk: Uint8Array): Buffer[] {
    this.buffered = this.buffered.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffered, chunk]);
    const messages: Buffer[] = [];
    for (;;) {
      const colon = this.buffered.indexOf(0x3a);
      if (colon < 0) {
        if (this.buffered.length > MAX_PREFIX_DIGITS) throw new NetstringError("length prefix too long or missing ':'");
        break;
      }
      const prefix = this.buffered.subarray(0, colon).toString("latin1");
      if (!/^(0|[1-9][0-9]*)$/.test(prefix)) throw new NetstringError(`invalid length prefix "${prefix.slice(0, 16)}"`);
      const length = Number(prefix);
      if (length > this.maxBytes) throw new NetstringError(`message of ${length} bytes exceeds ${this.maxBytes}`);
      const end = colon + 1 + length;
      if (this.buffered.length < end + 1) break;
      if (this.buffered[end] !== 0x2c) throw new NetstringError("missing ',' after message");
      messages.push(this.buffered.subarray(colon + 1, end));
      this.buffered = this.buffered.subarray(end + 1);
    }
    return messages;
  }

  get pendingBytes(): number {
    return this.buffered.length;
  }
}
