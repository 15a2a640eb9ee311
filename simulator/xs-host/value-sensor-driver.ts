/*
 * The driver class of a value-level stand-in (value-sensor.ts), over any
 * way to the host: the one-device bridge, or a fleet worker's requests
 * prefixed with the device's index. An ECMA-419 driver whose samples come
 * from a value model on the host. Pure: XS built-ins only.
 */
import { Request, Status, fromUtf8, utf8, type FrameReader } from "./protocol.js";

export interface ValueSensorOptions {
  sensor?: Record<string, unknown>;
  onError?: (message: string) => void;
}

export interface ValueSensorDriver {
  configure(options: Record<string, unknown>): void;
  sample(): unknown;
  close(): void;
}

/** A request of `op`: `handle` (none for SENSOR_OPEN) then `payload`; its status, which must be one of `accept`, and reply. */
export type SensorRequest = (op: number, handle: number | undefined, payload: Uint8Array | undefined, accept: readonly number[]) => { status: number; reply: FrameReader };

export function valueSensorOver(specifier: string, send: SensorRequest): new (options: ValueSensorOptions) => ValueSensorDriver {
  return class ValueSensor implements ValueSensorDriver {
    readonly #handle: number;
    readonly #onError: ((message: string) => void) | undefined;

    constructor(options: ValueSensorOptions) {
      this.#onError = options.onError;
      // The bus options the app gave (address, pins), so one model may serve several parts; not the I/O class.
      const sensor: Record<string, unknown> = {};
      for (const key in options.sensor ?? {}) if (key !== "io") sensor[key] = options.sensor![key];
      const { status, reply } = send(Request.SENSOR_OPEN, undefined, utf8(JSON.stringify({ specifier, sensor })), [Status.OK, Status.MISSING]);
      if (status !== Status.OK) throw new Error(`${specifier}: no value model for this driver in the simulator`);
      this.#handle = reply.u16();
    }

    configure(options: Record<string, unknown>): void {
      send(Request.SENSOR_CONFIGURE, this.#handle, utf8(JSON.stringify(options ?? {})), [Status.OK]);
    }

    sample(): unknown {
      const { status, reply } = send(Request.SENSOR_SAMPLE, this.#handle, undefined, [Status.OK, Status.FAILED]);
      const text = fromUtf8(reply.tail());
      if (status === Status.FAILED) {
        // As a driver reports a data fault: through onError, with the field left out.
        this.#onError?.(text);
        return {};
      }
      return JSON.parse(text) as unknown;
    }

    close(): void {}
  };
}
