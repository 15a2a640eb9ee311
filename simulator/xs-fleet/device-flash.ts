/*
 * Moddable's `flash` module for one simulated device of a fleet. The
 * device's chip (the NOR model of simulator/storage/nor-flash.ts, handed to
 * the runtime by its bundle) lives in the worker beside the app, so no flash
 * operation waits for the host; every change it makes is an output record
 * (the bytes the chip holds afterwards, a torn write's included), which the
 * host writes to the device's file. A boot starts from the host's copy.
 *
 * A power cut that lands in an operation powers the whole board off there
 * and then: the app gets an exception, and nothing it does after that
 * reaches the host.
 */
import { checkPowered, PowerOff, type BoardContext } from "./board-context.js";
import { Output } from "./fleet-protocol.js";
import { flushOutputIfFull, output } from "./host-link.js";

type Buffer = ArrayBuffer | ArrayBufferView;

/** What the runtime needs of a NOR chip (simulator/storage/nor-flash.ts's NorFlash). */
export interface FlashChip {
  readonly byteLength: number;
  readonly blockSize: number;
  readonly eraseCounts: Uint32Array;
  read(offset: number, byteLength: number): ArrayBuffer;
  write(offset: number, byteLength: number, buffer: ArrayBuffer | ArrayBufferView): void;
  erase(block: number): void;
  /** The chip's bytes, power or not. */
  contents(offset: number, byteLength: number): Uint8Array;
  cutPowerAfter(operations: number, seed?: number, kind?: "any" | "write" | "erase"): void;
}

export type ChipFactory = (geometry: { blockSize: number; blocks: number; seed: number }, bytes: Uint8Array, eraseCounts: Uint32Array) => FlashChip;

export interface Partition {
  readonly index: number;
  readonly name: string;
  readonly chip: FlashChip;
}

const isPowerCut = (error: unknown) => (error as Error | undefined)?.name === "PowerCut";

export class FleetFlash {
  readonly #board: BoardContext;
  readonly #partition: Partition;
  readonly byteLength: number;
  readonly blockSize: number;

  constructor(board: BoardContext, partitions: ReadonlyMap<string, Partition>, name: string) {
    checkPowered(board);
    if (typeof name !== "string" || name.length === 0) throw new RangeError("flash: partition name required");
    const partition = partitions.get(name);
    if (!partition) throw new Error(`flash: no partition "${name}"`);
    this.#board = board;
    this.#partition = partition;
    this.byteLength = partition.chip.byteLength;
    this.blockSize = partition.chip.blockSize;
  }

  read(offset: number, byteLength: number): ArrayBuffer {
    checkPowered(this.#board);
    return this.#run("read", () => this.#partition.chip.read(offset, byteLength));
  }

  write(offset: number, byteLength: number, buffer: Buffer): void {
    checkPowered(this.#board);
    const { chip, index } = this.#partition;
    this.#run("write", () => {
      try {
        chip.write(offset, byteLength, buffer);
      } finally {
        // What the chip holds now, whole or torn, goes to the host's copy.
        if (inRange(chip, offset, byteLength)) {
          output.record(Output.FLASH_WRITE, this.#board.index, this.#board.clock.now()).u8(index).u32(offset).sized(chip.contents(offset, byteLength));
          flushOutputIfFull();
        }
      }
    });
  }

  erase(block: number): void {
    checkPowered(this.#board);
    const { chip, index } = this.#partition;
    this.#run("erase", () => {
      try {
        chip.erase(block);
      } finally {
        if (inRange(chip, block * chip.blockSize, chip.blockSize)) {
          output.record(Output.FLASH_ERASE, this.#board.index, this.#board.clock.now()).u8(index).u32(block).u32(chip.eraseCounts[block])
            .sized(chip.contents(block * chip.blockSize, chip.blockSize));
          flushOutputIfFull();
        }
      }
    });
  }

  #run<T>(what: string, operation: () => T): T {
    try {
      return operation();
    } catch (error) {
      if (!isPowerCut(error)) throw error;
      const reason = `flash ${this.#partition.name} ${what}: ${(error as Error).message}`;
      this.#board.halt(reason);
      throw new PowerOff(reason);
    }
  }
}

function inRange(chip: FlashChip, offset: number, byteLength: number): boolean {
  return Number.isInteger(offset) && Number.isInteger(byteLength) && offset >= 0 && byteLength > 0 && offset + byteLength <= chip.byteLength;
}
