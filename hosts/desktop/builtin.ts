/*
 * `embedded:provider/builtin` for the Moddable desktop simulator (mcsim on
 * lin, mac, win), which has no I2C: the app's TMP117 driver gets a simulated
 * bus with the same register model of the part that the Node simulator uses,
 * so the driver's real bytes are answered as a TMP117 would answer them.
 *
 * Runs on XS inside mcsim: only language built-ins here, no Node APIs. rollup
 * bundles it (and the model it reuses) into build/moddable/desktop/builtin.js.
 */
import { Tmp117Model, TMP117_ADDRESS } from "../../simulator/sensors/tmp117-model.js";
import { temperatureProfile } from "../../simulator/sensors/temperature-profile.js";

type Buffer = ArrayBuffer | ArrayBufferView;

interface Target {
  write(bytes: Uint8Array, stop: boolean): boolean;
  read(count: number, stop: boolean): Uint8Array | undefined;
}

export interface I2COptions {
  address: number;
  hz: number;
  data?: number;
  clock?: number;
  port?: number;
  format?: "buffer";
}

/** The Node simulator's default profile: 21 °C ± 3 °C over the day, so both simulators read alike. */
const temperature = temperatureProfile({ meanCelsius: 21, dailySwingCelsius: 3, seed: 1 });
const targets = new Map<number, Target>([
  [TMP117_ADDRESS, new Tmp117Model({ temperature: () => temperature(Date.now()) })],
]);

/** Matches the largest transfer the SDK's ESP32 I2C accepts in one call; anything bigger is a bug in the caller. */
const MAX_TRANSFER = 4096;

function bytesOf(value: Buffer): Uint8Array {
  return value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function hex(address: number): string {
  return `0x${address.toString(16)}`;
}

/** ECMA-419 I2C over the simulated bus: an address with no part, or a refused byte, throws as a NACK does on a board. */
class I2C {
  readonly #address: number;
  #open = true;

  constructor(options: I2COptions) {
    const { address, hz } = options;
    if (!Number.isInteger(address) || address < 0 || address > 0x7f) throw new RangeError(`invalid I2C address ${address}`);
    if (!(hz > 0)) throw new RangeError(`invalid I2C hz ${hz}`);
    if (options.format !== undefined && options.format !== "buffer") throw new RangeError(`unsupported I2C format ${String(options.format)}`);
    this.#address = address;
  }

  get format(): "buffer" {
    return "buffer";
  }

  set format(value: "buffer") {
    if (value !== "buffer") throw new RangeError(`unsupported I2C format ${String(value)}`);
  }

  write(value: Buffer, stop = true): void {
    this.#check();
    const bytes = bytesOf(value);
    if (bytes.byteLength > MAX_TRANSFER) throw new RangeError(`I2C write of ${bytes.byteLength} bytes exceeds ${MAX_TRANSFER}`);
    // The model may keep what it is given; hand it a copy, as a wire would.
    if (!targets.get(this.#address)?.write(bytes.slice(), stop)) throw new Error(`I2C write to ${hex(this.#address)}: no acknowledgement`);
  }

  read(count: number | Buffer, stop = true): ArrayBuffer | undefined {
    this.#check();
    const into = typeof count === "number" ? undefined : bytesOf(count);
    const length = into ? into.byteLength : (count as number);
    if (!Number.isInteger(length) || length < 0 || length > MAX_TRANSFER) throw new RangeError(`invalid I2C read length ${length}`);
    const data = targets.get(this.#address)?.read(length, stop);
    if (!data) throw new Error(`I2C read from ${hex(this.#address)}: no acknowledgement`);
    if (!into) return data.slice(0, length).buffer as ArrayBuffer;
    into.set(data.subarray(0, length));
    return undefined;
  }

  close(): void {
    this.#open = false;
  }

  #check(): void {
    if (!this.#open) throw new Error("I2C closed");
  }
}

/** Pin numbers mean nothing on the desktop; they are the ESP32 defaults so configuration reads the same. */
const device = Object.freeze({
  io: Object.freeze({ I2C }),
  I2C: Object.freeze({ default: Object.freeze({ data: 21, clock: 22, hz: 400_000 }) }),
});

export default device;
