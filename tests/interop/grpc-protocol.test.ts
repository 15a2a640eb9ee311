/*
 * The Akka Projection gRPC foundation: our .proto files load, encode to the
 * wire bytes the field numbers in shared/akka-projection-grpc.md give, and
 * the helpers (slices, timestamps, seq_nr, Any payloads, TLS files) refuse
 * bad input by name.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import { EVENT_CONSUMER_SERVICE, EVENT_PRODUCER_SERVICE, REGISTRATION_SERVICE, grpcService } from "../../hosts/grpc/protocol.js";
import { OBSERVATION_RECORDED, PayloadError, REGISTERED, TEMPERATURE_READ, packAny, unpackAny } from "../../hosts/grpc/payload.js";
import { javaStringHashCode, parsePersistenceId, parseSeqNr, persistenceIdOf, sliceOf } from "../../hosts/grpc/persistence-id.js";
import { microsOf, millisOf, timestampFromMillis, TimestampError } from "../../hosts/grpc/timestamp.js";
import { channelCredentials, serverCredentials, TlsFileError } from "../../hosts/grpc/tls.js";
import { makeTestCertificates } from "../support/test-certificates.js";

function hex(bytes: Uint8Array | Buffer): string {
  return Buffer.from(bytes).toString("hex");
}

test("the services load with their methods and streaming shapes", () => {
  const producer = grpcService(EVENT_PRODUCER_SERVICE).service;
  assert.is(producer.EventsBySlices.path, "/akka.projection.grpc.EventProducerService/EventsBySlices");
  assert.ok(producer.EventsBySlices.requestStream && producer.EventsBySlices.responseStream);
  assert.is(producer.LoadEvent.requestStream, false);
  const consumer = grpcService(EVENT_CONSUMER_SERVICE).service;
  assert.is(consumer.ConsumeEvent.path, "/akka.projection.grpc.EventConsumerService/ConsumeEvent");
  assert.is(grpcService(REGISTRATION_SERVICE).service.Register.path, "/iot.registration.RegistrationService/Register");
});

test("messages encode with the documented field numbers", () => {
  const producer = grpcService(EVENT_PRODUCER_SERVICE).service;
  // StreamIn.init (1) { stream_id (1) "ab", slice_min (2) 0 (protobufjs writes a set default; proto3 readers take it), slice_max (3) 1023 }
  const init = producer.EventsBySlices.requestSerialize({ init: { stream_id: "ab", slice_min: 0, slice_max: 1023 } });
  assert.is(hex(init), "0a" + "09" + "0a026162" + "1000" + "18ff07");
  // ConsumeEventOut.ack (2) { persistence_id (1) "S|1", seq_nr (2) 5 }
  const consumer = grpcService(EVENT_CONSUMER_SERVICE).service;
  const ack = consumer.ConsumeEvent.responseSerialize({ ack: { persistence_id: "S|1", seq_nr: 5 } });
  assert.is(hex(ack), "12" + "07" + "0a03537c31" + "1005");
  // ConsumeEventIn.keep_alive (4) is an empty message.
  assert.is(hex(consumer.ConsumeEvent.requestSerialize({ keep_alive: {} })), "2200");
  // Event.source is field 6, FilteredEvent.source field 5.
  const out = producer.EventsBySlices.responseDeserialize(Buffer.from("0a" + "06" + "3202" + "4254" + "1001", "hex"));
  assert.is(out.message, "event");
  assert.is(out.event.source, "BT");
  assert.is(out.event.seq_nr, "1");
});

test("Java's String.hashCode and Akka's slices", () => {
  assert.is(javaStringHashCode("hello"), 99162322);
  assert.is(javaStringHashCode("Aa"), javaStringHashCode("BB"));
  assert.is(javaStringHashCode("polygenelubricants"), -2147483648);
  assert.is(sliceOf("polygenelubricants"), 0);
  for (const pid of ["Registration|1", "Sensor|ü-ñ", "x"]) assert.ok(sliceOf(pid) >= 0 && sliceOf(pid) < 1024);
  // A negative hash: Java's % keeps the sign, Akka takes abs.
  assert.ok(javaStringHashCode("Registration|sensor-zz") < 0 || javaStringHashCode("Registration|sensor-zz") >= 0);
  const negative = ["a|b", "Sensor|7", "Registration|2", "abcdefghij"].find((s) => javaStringHashCode(s) < 0)!;
  assert.is(sliceOf(negative), Math.abs(javaStringHashCode(negative) % 1024));
});

test("persistence ids take any entity id; seq_nr must be exact", () => {
  assert.equal(parsePersistenceId("Registration|not a number|x"), { entityType: "Registration", entityId: "not a number|x" });
  assert.is(persistenceIdOf("Sensor", "sim-1"), "Sensor|sim-1");
  assert.throws(() => parsePersistenceId("Registration|"), /not "<EntityType>\|<entityId>"/);
  assert.throws(() => parsePersistenceId("nobar"), /nobar/);
  assert.is(parseSeqNr("42", "S|1"), 42);
  assert.throws(() => parseSeqNr("0", "S|1"), /seq_nr of S\|1/);
  assert.throws(() => parseSeqNr("9007199254740993", "S|1"), /seq_nr/);
  assert.throws(() => parseSeqNr("-1", "S|1"), /seq_nr/);
});

test("timestamps keep nanos as the sub-second part", () => {
  assert.equal(timestampFromMillis(1_700_000_000_123), { seconds: 1_700_000_000, nanos: 123_000_000 });
  assert.is(millisOf({ seconds: "1700000000", nanos: 123_456_789 }), 1_700_000_000_123);
  assert.is(microsOf({ seconds: "1", nanos: 999_999_999 }), 1_999_999);
  assert.throws(() => microsOf({ seconds: "1", nanos: 1_000_000_000 }), (e: Error) => e instanceof TimestampError && /nanos must be 0..999999999/.test(e.message));
  assert.throws(() => microsOf({ seconds: "-5", nanos: 0 }), /seconds out of range/);
});

test("Any payloads pack and unpack; unknown and malformed ones are PayloadErrors", () => {
  const any = packAny(REGISTERED, { secret: { value: "s3cret" } });
  assert.is(any.type_url, "type.googleapis.com/iot.registration.Registered");
  assert.is(hex(any.value), "0a08" + "0a06" + Buffer.from("s3cret").toString("hex"));
  assert.equal(unpackAny(any, [REGISTERED]).message, { secret: { value: "s3cret" } });
  const temp = unpackAny<{ temperature: number }>(packAny(TEMPERATURE_READ, { temperature: -3 }), [TEMPERATURE_READ, OBSERVATION_RECORDED]);
  assert.equal(temp, { type: TEMPERATURE_READ, message: { temperature: -3 } });
  try {
    unpackAny({ type_url: "type.googleapis.com/other.Thing", value: new Uint8Array() }, [REGISTERED]);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, PayloadError);
    assert.match((e as Error).message, /unknown payload type "type.googleapis.com\/other.Thing"/);
  }
  assert.throws(() => unpackAny({ type_url: any.type_url, value: Uint8Array.from([0x0a, 0x09, 0x01]) }, [REGISTERED]), /malformed iot.registration.Registered/);
  assert.throws(() => unpackAny(null, [REGISTERED]), /no payload/);
});

test("TLS files: missing ones and a certificate without its key are named", () => {
  const certs = makeTestCertificates("grpc-tls");
  try {
    assert.ok(channelCredentials({ caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile }) instanceof grpc.ChannelCredentials);
    assert.ok(serverCredentials({ certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile }) instanceof grpc.ServerCredentials);
    assert.throws(() => channelCredentials({ certFile: certs.clientCertFile }), /certFile and keyFile go together/);
    assert.throws(() => channelCredentials({ caFile: "/nonexistent/ca.pem" }), (e: Error) => e instanceof TlsFileError && /caFile \/nonexistent\/ca.pem/.test(e.message));
    assert.throws(() => serverCredentials({ certFile: certs.serverCertFile, keyFile: "/nonexistent/key.pem" }), /keyFile \/nonexistent\/key.pem/);
  } finally {
    certs.remove();
  }
});

test.run();
