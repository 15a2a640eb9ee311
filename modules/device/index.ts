/*
 * xsedge/device: the public API a device app is written against (see
 * modules/README.md). An app's main module is
 *
 *   import { device } from "xsedge/device";
 *   export default device((app) => {
 *     app.sensor("air", TMP117, { periodMs: 5000 });
 *   });
 *
 * and the runtime does the rest: settings, sampling, batching, the flash
 * log, the QoS 1 uplink, clock anchors, sequence numbers, the downlink and
 * its reports. `device()` returns the function the Moddable host calls to
 * start the app (the main module's default export).
 */
import { startDevice } from "./runtime.js";
import type { DeviceApp } from "./app-types.js";

export type * from "./app-types.js";

/** The app: `setup` declares its sensors, settings, commands and quantities; the returned function starts it all. */
export function device(setup: (app: DeviceApp) => void): () => void {
  if (typeof setup !== "function") throw new TypeError("device(setup): setup must be a function");
  return () => startDevice(setup);
}
