/*
 * An app on a Moddable SDK driver: the SDK's SHT3x (embedded:sensor/
 * Humidity-Temperature/SHT3x), whose samples are grouped by sensor class,
 * `{ thermometer: { temperature }, hygrometer: { humidity } }`. The runtime
 * maps them to temperature and humidity as it maps any ECMA-419 sample; the
 * app says only which part, on which bus, how often.
 */
import { device } from "xsedge/device";
import SHT3x from "embedded:sensor/Humidity-Temperature/SHT3x";

export default device((app) => {
  app.sensor("air", SHT3x, { periodMs: 2000, address: 0x44 });
});
