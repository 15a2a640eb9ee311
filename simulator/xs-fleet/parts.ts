/*
 * The sensor parts on a fleet device's I2C bus. The worker does not know the
 * parts itself: the bundle that builds it (rollup.config.js) hands it a
 * builder, which turns the host's description of a device's parts into
 * register-level models that answer inside XS, so a sample costs no crossing
 * to the host. A part modelled on the host instead (a user's own model) is
 * listed with no target, and transfers to its address cross.
 */
import { Request, Status } from "../xs-host/protocol.js";
import type { I2cTransport } from "../xs-host/simulated-i2c.js";
import { checkPowered, type BoardContext } from "./board-context.js";
import { hostRequest, sendRequest } from "./host-link.js";

/** The register-level model interface of simulator/sensors/*-model.ts (structurally the same). */
export interface I2cTarget {
  /** False: not acknowledged. */
  write(bytes: Uint8Array, stop: boolean): boolean;
  /** Undefined: not acknowledged. */
  read(count: number, stop: boolean): Uint8Array | undefined;
}

export interface BuiltPart {
  readonly address: number;
  /** Answers on the bus inside XS; absent: the part is modelled on the host. */
  readonly target?: I2cTarget;
  /** The physical values the part last measured, for the host's probes. */
  values?(): Record<string, number>;
  /** Applies a change of its signals or faults, as the host describes it. */
  update?(change: unknown): void;
}

export interface PartContext {
  /** The device's clock, ms. */
  now(): number;
  /** The device's seed: noise and fault draws repeat for the same seed. */
  seed: number;
}

export type PartBuilder = (specs: unknown, context: PartContext) => BuiltPart[];

/** A device's bus: its parts answer in XS; a host-modelled part's transfers cross; any other address NACKs. */
export function deviceBus(board: BoardContext, parts: readonly BuiltPart[]): I2cTransport {
  const local = new Map<number, I2cTarget>();
  const bridged = new Set<number>();
  for (const part of parts) {
    if (part.target) local.set(part.address, part.target);
    else bridged.add(part.address);
  }
  return {
    write(address, bytes, stop) {
      checkPowered(board);
      const target = local.get(address);
      if (target) return target.write(bytes, stop);
      if (!bridged.has(address)) return false;
      hostRequest(board.index, board.clock.now(), Request.I2C_WRITE).u8(address).u8(stop ? 1 : 0).tail(bytes);
      return sendRequest([Status.OK, Status.NACK]).status === Status.OK;
    },
    read(address, count, stop) {
      checkPowered(board);
      const target = local.get(address);
      if (target) return target.read(count, stop);
      if (!bridged.has(address)) return undefined;
      hostRequest(board.index, board.clock.now(), Request.I2C_READ).u8(address).u8(stop ? 1 : 0).u16(count);
      const { status, reply } = sendRequest([Status.OK, Status.NACK]);
      return status === Status.OK ? reply.tail() : undefined;
    },
  };
}
