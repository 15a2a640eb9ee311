// Globals that xsnap-worker installs (xsnap-worker.c: modInstallTextEncoder/Decoder, print).
// `declare global` because this package is "type": "module", which makes every file a module.
export {};
declare global {
  class TextEncoder {
    encode(text?: string): Uint8Array;
  }
  class TextDecoder {
    constructor(label?: string, options?: { fatal?: boolean });
    decode(bytes?: ArrayBuffer | ArrayBufferView): string;
  }
  function print(...values: unknown[]): void;
}
