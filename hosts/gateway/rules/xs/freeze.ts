/*
 * Freezes what every rule's Compartment shares, once, when the host starts.
 *
 * In XS the built-ins (Array, Object.prototype, Math, ...) are shared by
 * every Compartment of a machine; only globalThis, Function, eval and
 * Compartment are a compartment's own. So one rule could change
 * Array.prototype.map under another rule, or leave a door open to the
 * host's globals, unless the shared objects are frozen first. XS has
 * `lockdown()` for this, but xsnap-worker does not install it (only
 * `harden`), so this file does lockdown's work:
 *
 *  - the constructors a function's prototype leads to (Function,
 *    GeneratorFunction, AsyncFunction, AsyncGeneratorFunction) evaluate
 *    code in the host's global scope, where issueCommand lives: replaced by
 *    one that throws;
 *  - Date reads the wall clock and Math.random is not replayable: a rule
 *    gets a Date that needs an explicit time, and no Math.random (its only
 *    clock is ctx.now);
 *  - the properties code commonly assigns on its own objects (`this.name`
 *    in an Error subclass, `toString` on a plain object) become accessors
 *    that define the property on the object assigned to, as SES's
 *    override taming does: on a frozen prototype a plain data property
 *    would make those assignments fail (the "override mistake");
 *  - then every built-in reachable from the global object, or only through
 *    syntax (iterators, generators, async functions), is hardened.
 *
 * tests/gateway/rules/isolation.test.ts walks everything a rule can reach
 * and checks it is frozen.
 */

function noEvaluator(): never {
  throw new TypeError("rules cannot evaluate code through a function constructor");
}

function noClock(): never {
  throw new TypeError("rules have no clock: use ctx.now (new Date(ctx.now) for a date)");
}

function noRandom(): never {
  throw new TypeError("rules have no randomness (it would not replay): derive what you need from the observations");
}

const SyntaxFunctionPrototypes = (): object[] => [
  Function.prototype,
  Object.getPrototypeOf(function* () {}),
  Object.getPrototypeOf(async function () {}),
  Object.getPrototypeOf(async function* () {}),
];

/** Prototype properties that code assigns on instances: each becomes an accessor that defines an own property instead. */
function overridable(): Array<[object, string[]]> {
  const errors = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError];
  return [
    // Not methods on hot paths (push, then, an array's constructor): a getter on every lookup would cost every rule.
    [Object.prototype, ["constructor", "toString", "valueOf", "toLocaleString"]],
    [Error.prototype, ["name", "message", "toString", "constructor"]],
    ...errors.slice(1).map((error): [object, string[]] => [error.prototype, ["name", "message", "constructor"]]),
  ];
}

function tameOverrides(): void {
  for (const [prototype, names] of overridable()) {
    for (const name of names) {
      const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
      if (!descriptor || !("value" in descriptor) || !descriptor.configurable) continue;
      const value: unknown = descriptor.value;
      Object.defineProperty(prototype, name, {
        get: function getter() {
          return value;
        },
        set: function setter(this: object, assigned: unknown) {
          if (this === prototype) throw new TypeError(`cannot assign ${name} on a frozen built-in prototype`);
          Object.defineProperty(this, name, { value: assigned, writable: true, enumerable: true, configurable: true });
        },
        enumerable: descriptor.enumerable,
        configurable: false,
      });
    }
  }
}

/** A Date whose constructor needs a time, sharing Date.prototype (so `instanceof Date` and every method still work). */
function makeRuleDate(): DateConstructor {
  const HostDate = Date;
  function RuleDate(this: unknown, ...args: unknown[]): unknown {
    if (new.target === undefined || args.length === 0) noClock();
    return Reflect.construct(HostDate, args, new.target);
  }
  Object.defineProperties(RuleDate, {
    prototype: { value: HostDate.prototype, writable: false, enumerable: false, configurable: false },
    now: { value: noClock, writable: false, enumerable: false, configurable: true },
    parse: { value: HostDate.parse, writable: false, enumerable: false, configurable: true },
    UTC: { value: HostDate.UTC, writable: false, enumerable: false, configurable: true },
  });
  return RuleDate as unknown as DateConstructor;
}

/** Objects only syntax reaches (no global names them), so harden must be shown them. */
function syntaxIntrinsics(): unknown[] {
  const iterators = [
    [][Symbol.iterator](),
    new Map()[Symbol.iterator](),
    new Set()[Symbol.iterator](),
    ""[Symbol.iterator](),
    "".matchAll(/./g),
  ].map((it) => Object.getPrototypeOf(it));
  const generator = function* () {};
  const asyncGenerator = async function* () {};
  return [
    ...iterators,
    ...SyntaxFunctionPrototypes(),
    Object.getPrototypeOf(generator.prototype),
    Object.getPrototypeOf(asyncGenerator.prototype),
    Object.getPrototypeOf(Uint8Array),
    Object.getPrototypeOf(Object.getPrototypeOf(asyncGenerator.prototype)),
    (function (this: unknown) {
      // The sloppy-mode arguments object's prototype is Object.prototype; strict functions' callee accessor is %ThrowTypeError%.
      return Object.getOwnPropertyDescriptor(arguments, "callee")?.get;
    })(),
  ];
}

export interface Frozen {
  /** What a rule's Compartment gets in place of the shared Date. */
  ruleDate: DateConstructor;
}

/** Tames and hardens the shared built-ins: before anything else is hardened (a hardened class freezes Function.prototype). */
function freezeIntrinsics(): Frozen {
  for (const prototype of SyntaxFunctionPrototypes()) {
    Object.defineProperty(prototype, "constructor", { value: noEvaluator, writable: false, enumerable: false, configurable: false });
  }
  const ruleDate = makeRuleDate();
  Object.defineProperty(Date.prototype, "constructor", { value: ruleDate, writable: false, enumerable: false, configurable: false });
  Object.defineProperty(Math, "random", { value: noRandom, writable: false, enumerable: false, configurable: false });
  tameOverrides();
  const global = globalThis as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(global)) {
    if (name === "globalThis" || name === "global" || name === "handleCommand") continue;
    const value = global[name];
    if ((typeof value === "object" && value !== null) || typeof value === "function") harden(value);
  }
  for (const value of syntaxIntrinsics()) if (value !== undefined) harden(value);
  harden(ruleDate);
  harden(noEvaluator);
  return { ruleDate };
}

/**
 * Done when this module is evaluated, which is first: every module of the
 * host that hardens one of its own classes imports this one before it.
 */
export const FROZEN: Frozen = freezeIntrinsics();

/**
 * Globals a rule's Compartment gets over the built-ins: no Compartment (a
 * child one would get the real Date), nothing that blocks the engine where
 * the meter cannot see (Atomics.wait) or observes the garbage collector.
 */
export function ruleGlobals(trace: (...values: unknown[]) => void): Record<string, unknown> {
  return {
    Date: FROZEN.ruleDate,
    Compartment: undefined,
    ModuleSource: undefined,
    Atomics: undefined,
    SharedArrayBuffer: undefined,
    WeakRef: undefined,
    FinalizationRegistry: undefined,
    trace: harden(trace),
  };
}
