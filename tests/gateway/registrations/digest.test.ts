/*
 * Registrations that carry a secret's digest ("sha256:<hex>") instead of the
 * secret, as the reference cloud's streams do: the gateway stores the digest
 * as is and a device logs in with the secret; a stream that carries secrets
 * (the Akka sample's cloud) still works. Through the projection on a real
 * SQLite file and the feeds' pure decisions.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { secretDigestText } from "../../../hosts/auth/secret-digest.js";
import { packAny, REGISTERED } from "../../../hosts/grpc/payload.js";
import type { StreamOut } from "../../../hosts/grpc/messages.js";
import { readEnvelope, readRegistration } from "../../../hosts/gateway/registrations/akka/envelope.js";
import { RegistrationStreamState } from "../../../hosts/gateway/registrations/akka/sequence.js";
import { decideRegistrationEvent } from "../../../hosts/gateway/registrations/event.js";
import { RegistrationProjection } from "../../../hosts/gateway/registrations/projection.js";
import { tempDir } from "../../support/test-helpers.js";

const SECRET = "a device secret 1";
const DIGEST = secretDigestText(SECRET);

test("an SSE event with secretDigest registers the sensor: the device's secret then verifies, others do not", () => {
  const decision = decideRegistrationEvent({ type: "message", id: "1", data: JSON.stringify({ sensorId: "s-1", secretDigest: DIGEST, registeredAt: 5 }) }, 0);
  assert.is(decision.action, "apply");
  const dir = tempDir("digest");
  const projection = RegistrationProjection.open(dir.path);
  try {
    if (decision.action === "apply") projection.apply(decision.registration);
    assert.is(projection.verify("s-1", SECRET), "ok");
    assert.is(projection.verify("s-1", DIGEST), "bad-secret", "the digest is no password");
    assert.is(projection.verify("s-1", "another secret"), "bad-secret");
  } finally {
    projection.close();
    dir.remove();
  }
});

test("a malformed secretDigest is skipped by name, without quoting it", () => {
  for (const secretDigest of ["sha256:abc", `sha256:${"A".repeat(64)}`, `md5:${"a".repeat(64)}`, 42]) {
    const decision = decideRegistrationEvent({ type: "message", id: "3", data: JSON.stringify({ sensorId: "s-1", secretDigest, registeredAt: 5 }) }, 0);
    assert.is(decision.action, "skip", String(secretDigest));
    if (decision.action === "skip") {
      assert.match(decision.reason, /secretDigest of s-1 must be "sha256:" and 64 lowercase hex digits/);
      assert.not.ok(decision.reason.includes(String(secretDigest)));
    }
  }
});

const registered = (value: string): StreamOut =>
  ({ message: "event", event: { persistence_id: "Registration|s-2", seq_nr: "1", slice: 0, offset: [{ timestamp: { seconds: "1700000000", nanos: 0 }, seen: [], slice: 0 }], payload: packAny(REGISTERED, { secret: { value } }), source: "", metadata: null, tags: [] } }) as StreamOut;

test("Akka's Registered: a sha256: digest is kept as the digest, a plain secret (the Akka sample's cloud) is hashed; both verify the device", () => {
  const dir = tempDir("digest");
  const projection = RegistrationProjection.open(dir.path);
  try {
    const state = new RegistrationStreamState(new Map(), new Map());
    for (const [value, secret] of [[DIGEST, SECRET], ["plain secret of the sample", "plain secret of the sample"]]) {
      const reading = readEnvelope(registered(value));
      if (!reading.ok) throw new Error(reading.reason);
      const registration = readRegistration(reading.envelope);
      if (!registration.ok) throw new Error(registration.reason);
      projection.applyStreamEvent("registration-events", state.step("Registration|s-2", 1, reading.envelope.offsets), registration.registration);
      assert.is(projection.verify("s-2", secret), "ok", value);
    }
    projection.close();
    for (const file of readdirSync(dir.path)) {
      assert.not.ok(readFileSync(join(dir.path, file)).includes(Buffer.from("plain secret of the sample")), `${file} holds a secret`);
    }
  } finally {
    projection.close();
    dir.remove();
  }
});

test.run();
