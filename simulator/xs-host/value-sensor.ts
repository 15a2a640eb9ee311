/*
 * A stand-in for a sensor driver the simulator cannot run (a part with no
 * register model, or a Moddable SDK driver without $MODDABLE): an ECMA-419
 * driver class whose samples come from a value-level model on the host. The
 * simulator's bundle puts `valueSensor(specifier)` where the app imports that
 * driver, so the app's code is the same on a board and here.
 */
import { Request, Status, fromUtf8, utf8 } from "./protocol.js";
import { frame, request } from "./bridge.js";

interface Options {
  sensor?: Record<string, unknown>;
  onError?: (message: string) => void;
}

export interface ValueSensorDriver {
  configure(options: Record<string, unknown>): void;
  sample(): unknown;
  close(): void;
}

export function valueSensor(specifier: string): new (options: Options) => ValueSensorDriver {
  return class ValueSensor implements ValueSensorDriver {
    readonly #handle: number;
    readonly #onError: ((message: string) => void) | undefined;

    constructor(options: Options) {
      this.#onError = options.onError;
      // The bus options the app gave (address, pins), so one model may serve several parts; not the I/O class.
      const sensor: Record<string, unknown> = {};
      for (const key in options.sensor ?? {}) if (key !== "io") sensor[key] = options.sensor![key];
      const { status, reply } = request(frame(Request.SENSOR_OPEN).tail(utf8(JSON.stringify({ specifier, sensor }))), [Status.OK, Status.MISSING]);
      if (status !== Status.OK) throw new Error(`${specifier}: no value model for this driver in the simulator`);
      this.#handle = reply.u16();
    }

    configure(options: Record<string, unknown>): void {
      request(frame(Request.SENSOR_CONFIGURE).u16(this.#handle).tail(utf8(JSON.stringify(options ?? {}))));
    }

    sample(): unknown {
      const { status, reply } = request(frame(Request.SENSOR_SAMPLE).u16(this.#handle), [Status.OK, Status.FAILED]);
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
