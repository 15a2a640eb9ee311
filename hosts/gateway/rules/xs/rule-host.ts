/*
 * The rule host: the script the gateway evaluates in each xsnap-worker that
 * runs rules. It freezes the shared built-ins (freeze.js, evaluated first),
 * then answers the gateway's
 * JSON requests (protocol.ts) through handleCommand: load a rule version
 * into a slot, deliver events to it, run its self-test, hand its state to
 * another slot, unload it.
 *
 * The quantities a derived observation may carry come from the gateway in
 * the first line it evaluates (globalThis.ruleHostQuantities), so they
 * follow modules/observation/record.ts without a copy here.
 */
import "./freeze.js";
import { RuleFault } from "./rule-fault.js";
import { RuleSlot } from "./rule-slot.js";
import type { DeliverReply, HostRequest, LoadReply, SimpleReply } from "./protocol.js";

const quantities: readonly string[] = [...((globalThis as { ruleHostQuantities?: string[] }).ruleHostQuantities ?? [])];
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const slots = new Map<string, RuleSlot>();

function faultOf(e: unknown): SimpleReply {
  if (e instanceof RuleFault) return { ok: false, error: e.fault };
  return { ok: false, error: { kind: "crash", message: `rule host: ${String(e)}` } };
}

function slot(name: string): RuleSlot {
  const found = slots.get(name);
  if (!found) throw new RuleFault({ kind: "crash", message: `rule host: no slot ${name}` });
  return found;
}

function answer(request: HostRequest): LoadReply | DeliverReply | SimpleReply {
  try {
    switch (request.op) {
      case "load": {
        slots.delete(request.slot);
        const loaded = new RuleSlot(request, quantities);
        slots.set(request.slot, loaded);
        return { ok: true, rule: loaded.summary };
      }
      case "deliver":
        return slot(request.slot).deliver(request.events);
      case "selfTest":
        slot(request.slot).selfTest();
        return { ok: true };
      case "adopt":
        slot(request.slot).adopt(request.state);
        return { ok: true };
      case "unload":
        slots.delete(request.slot);
        return { ok: true };
    }
  } catch (e) {
    return faultOf(e);
  }
}

globalThis.handleCommand = (message: ArrayBuffer): ArrayBuffer => {
  const request = JSON.parse(decoder.decode(message)) as HostRequest;
  return encoder.encode(JSON.stringify(answer(request))).buffer as ArrayBuffer;
};
