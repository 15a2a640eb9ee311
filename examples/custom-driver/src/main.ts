/*
 * A driver of the app's own: the OPT3001 ambient light sensor (opt3001.ts),
 * an ECMA-419 driver like the SDK's, so the runtime samples it like any
 * other. Its `{ illuminance }` becomes the standard quantity illuminance (lx).
 */
import { device } from "xsedge/device";
import OPT3001 from "./opt3001.js";

export default device((app) => {
  app.sensor("light", OPT3001, { periodMs: 5000 });
});
