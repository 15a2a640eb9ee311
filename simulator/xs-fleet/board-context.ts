// What a device's host modules need of the board they belong to.
import type { DeviceClock } from "./device-clock.js";

export interface BoardContext {
  /** The device's index in the fleet: prefixes its requests and output records. */
  readonly index: number;
  readonly clock: DeviceClock;
  /** Powered off: every host module refuses to do anything more. */
  readonly halted: boolean;
  /** An exception that escaped one of the app's callbacks. */
  report(error: unknown): void;
  /** The board lost power where it stood (a power cut landed in a flash operation). */
  halt(reason: string): void;
}

export class PowerOff extends Error {
  // Defined, not assigned: Error.prototype is frozen, as on a board, and assigning over its name throws.
  override readonly name = "PowerOff";
  constructor(reason: string) {
    super(`device powered off: ${reason}`);
  }
}

/** Throws when the board is off: an app that caught the power cut must still get nothing more done. */
export function checkPowered(board: BoardContext): void {
  if (board.halted) throw new PowerOff("no power");
}
