/*
 * A stand-in for a sensor driver the simulator cannot run (a part with no
 * register model, or a Moddable SDK driver without $MODDABLE): an ECMA-419
 * driver class whose samples come from a value-level model on the host. The
 * simulator's bundle puts `valueSensor(specifier)` where the app imports that
 * driver, so the app's code is the same on a board and here.
 */
import { frame, request } from "./bridge.js";
import { valueSensorOver, type ValueSensorDriver } from "./value-sensor-driver.js";

export type { ValueSensorDriver };

export function valueSensor(specifier: string) {
  return valueSensorOver(specifier, (op, handle, payload, accept) => {
    const built = frame(op);
    if (handle !== undefined) built.u16(handle);
    if (payload !== undefined) built.tail(payload);
    return request(built, accept);
  });
}
