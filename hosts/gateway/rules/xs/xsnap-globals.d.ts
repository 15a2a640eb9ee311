// Globals that xsnap-worker installs (its xsnap-worker.c, xsBuildAgent) and
// XS's own Compartment and ModuleSource. `declare global` because this
// package is "type": "module", which makes every file a module.
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
  /** Freezes a value and everything reachable from it (properties, prototypes). */
  function harden<T>(value: T): T;
  /** Sets the meter's limit and index for the rest of this delivery; returns the index before. 0 as limit: none. */
  function resetMeter(limit: number, index: number): number;
  /** The meter's limit now (0: none). */
  function currentMeterLimit(): number;
  /** What xsnap-worker calls with the bytes of a `?` message; the returned ArrayBuffer is the reply. */
  var handleCommand: (message: ArrayBuffer) => ArrayBuffer;

  class ModuleSource {
    constructor(source: string);
  }
  interface ModuleDescriptor {
    source: ModuleSource | string;
    specifier?: string;
  }
  class Compartment {
    constructor(options?: { globals?: Record<string, unknown>; modules?: Record<string, ModuleDescriptor> });
    readonly globalThis: Record<string, unknown>;
    evaluate(script: string): unknown;
    importNow(specifier: string): Record<string, unknown>;
  }
}
