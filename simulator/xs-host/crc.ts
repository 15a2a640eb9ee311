/*
 * The Moddable SDK's `crc` module (CRC8, CRC16) for the simulator: native on
 * a board, here in JavaScript, so that the SDK's sensor drivers that check
 * their parts' CRCs with it (SHT3x, HTU21D, ...) run in the simulator as
 * they are. Same interface: the constructor takes polynomial, initial value,
 * reflect-input, reflect-output and the final XOR; checksum() continues the
 * running CRC over a buffer and returns it; reset() starts again.
 */
type Buffer = ArrayBuffer | ArrayBufferView;

function bytesOf(buffer: Buffer): Uint8Array {
  return buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function reflect(value: number, bits: number): number {
  let out = 0;
  for (let i = 0; i < bits; i++) if (value & (1 << i)) out |= 1 << (bits - 1 - i);
  return out;
}

class Crc {
  readonly #bits: number;
  readonly #top: number;
  readonly #mask: number;
  readonly #polynomial: number;
  readonly #initial: number;
  readonly #reflectInput: boolean;
  readonly #reflectOutput: boolean;
  readonly #xorOutput: number;
  #crc: number;

  constructor(bits: number, polynomial: number, initial = 0, reflectInput = 0, reflectOutput = 0, xorOutput = 0) {
    this.#bits = bits;
    this.#top = 1 << (bits - 1);
    this.#mask = (1 << bits) - 1;
    this.#polynomial = polynomial & this.#mask;
    this.#initial = initial & this.#mask;
    this.#reflectInput = !!reflectInput;
    this.#reflectOutput = !!reflectOutput;
    this.#xorOutput = xorOutput & this.#mask;
    this.#crc = this.#initial;
  }

  checksum(buffer: Buffer): number {
    let crc = this.#crc;
    for (const byte of bytesOf(buffer)) {
      crc ^= (this.#reflectInput ? reflect(byte, 8) : byte) << (this.#bits - 8);
      for (let bit = 0; bit < 8; bit++) crc = crc & this.#top ? ((crc << 1) ^ this.#polynomial) & this.#mask : (crc << 1) & this.#mask;
    }
    this.#crc = crc;
    return ((this.#reflectOutput ? reflect(crc, this.#bits) : crc) ^ this.#xorOutput) & this.#mask;
  }

  reset(): this {
    this.#crc = this.#initial;
    return this;
  }

  close(): void {}
}

export class CRC8 extends Crc {
  constructor(polynomial: number, initial?: number, reflectInput?: number, reflectOutput?: number, xorOutput?: number) {
    super(8, polynomial, initial, reflectInput, reflectOutput, xorOutput);
  }
}

export class CRC16 extends Crc {
  constructor(polynomial: number, initial?: number, reflectInput?: number, reflectOutput?: number, xorOutput?: number) {
    super(16, polynomial, initial, reflectInput, reflectOutput, xorOutput);
  }
}

export default CRC8;
