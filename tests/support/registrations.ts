/*
 * Registering sensors at the reference cloud and waiting until a gateway's
 * registration feed has brought them, for tests whose devices log in.
 */
import type { Gateway } from "../../hosts/gateway/gateway.js";
import { call } from "./cloud-http.js";
import { waitFor } from "./test-helpers.js";

/** A valid secret (8 to 128 characters) derived from the id, so tests need not keep a table. */
export function secretFor(sensorId: string): string {
  return `secret-of-${sensorId}`;
}

/** MQTT credentials of a device of `sensorId`. */
export function loginAs(sensorId: string, secret = secretFor(sensorId)): { username: string; password: string } {
  return { username: sensorId, password: secret };
}

/** Registers (or re-registers) the sensor at the cloud; fails the test on anything but 200/201. */
export async function registerAtCloud(cloudUrl: string, sensorId: string, secret = secretFor(sensorId)): Promise<void> {
  const answer = await call(cloudUrl, "POST", "/api/v1/sensors", { sensorId, secret });
  if (answer.status !== 200 && answer.status !== 201) throw new Error(`registering ${sensorId}: HTTP ${answer.status} ${answer.text}`);
}

/** Waits until the gateway accepts `secret` for each sensor (its feed has applied the registrations). */
export async function untilAccepted(gateway: Gateway, sensorIds: readonly string[], secret: (id: string) => string = secretFor): Promise<void> {
  await waitFor(`the gateway to accept ${sensorIds.join(", ")}`, () => sensorIds.every((id) => gateway.registry.verify(id, secret(id)) === "ok"));
}
