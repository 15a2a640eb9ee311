/*
 * The host side of value-level models: the device's stand-in drivers
 * (xs-host/value-sensor.ts) open, configure and sample them through the
 * bridge. A model that throws answers FAILED with its message, which the
 * stand-in reports through onError, as a driver reports a data fault.
 */
import { Request, Status, fromUtf8, utf8, type FrameReader, type FrameWriter } from "../xs-host/protocol.js";
import type { ExtraRequests } from "../engine/host-services.js";
import type { ModelContext, SimulatorModels, ValueModel } from "./models.js";

/** Stand-ins one device may open: a device has at most eight sensors, each may be reopened after faults. */
const MAX_OPEN = 64;

export function valueModelRequests(models: SimulatorModels, context: ModelContext): ExtraRequests {
  const open: ValueModel[] = [];
  return (op: number, request: FrameReader, out: FrameWriter): boolean => {
    if (op === Request.SENSOR_OPEN) {
      const { specifier, sensor } = JSON.parse(fromUtf8(request.tail())) as { specifier: string; sensor: Record<string, unknown> };
      const make = models.drivers?.[specifier];
      if (!make || open.length >= MAX_OPEN) out.u8(Status.MISSING);
      else out.u8(Status.OK).u16(open.push(make(context, sensor)) - 1);
      return true;
    }
    if (op === Request.SENSOR_SAMPLE || op === Request.SENSOR_CONFIGURE) {
      const model = open[request.u16()];
      if (!model) {
        out.u8(Status.REFUSED);
        return true;
      }
      try {
        if (op === Request.SENSOR_SAMPLE) out.u8(Status.OK).tail(utf8(JSON.stringify(model.sample())));
        else {
          model.configure?.(JSON.parse(fromUtf8(request.tail())) as Record<string, unknown>);
          out.u8(Status.OK);
        }
      } catch (e) {
        out.reset().u8(Status.FAILED).tail(utf8((e as Error)?.message ?? String(e)));
      }
      return true;
    }
    return false;
  };
}
