// XS's Compartment and ModuleSource (XS 13, as in @agoric/xsnap), and xsnap's harden: what the fleet runtime uses of them.
export {};
declare global {
  class ModuleSource {
    constructor(source: string);
    readonly bindings: ReadonlyArray<Record<string, string>>;
  }
  interface ModuleDescriptor {
    source?: ModuleSource;
    /** A namespace object: its own properties are the module's exports. */
    namespace?: Record<string, unknown>;
  }
  class Compartment {
    constructor(options: { globals?: Record<string, unknown>; modules?: Record<string, ModuleDescriptor> });
    importNow(specifier: string): Record<string, unknown>;
    readonly globalThis: Record<string, unknown>;
  }
  function harden<T>(value: T): T;
}
