/*
 * fast-check arbitraries of what a device (or an attacker) sends an MQTT
 * listener: packets of every type built with mqtt-packet from random fields
 * (valid and invalid combinations), their bytes mutated, raw bytes, and
 * sessions that log in first or not. And an oracle: mqtt-packet's own
 * server-side parser says whether the bytes are malformed, and where.
 */
import mqtt, { type Packet } from "mqtt-packet";
import { uplinkTopic } from "../../hosts/gateway/ingest/ingest.js";
import { fc, mutatedBytes } from "./fuzz.js";
import { recordInput } from "./record-arbitraries.js";

export interface Login {
  sensorId: string;
  secret: string;
}

/** The CONNECT a registered device sends, as bytes. */
export function connectBytes(login: Login, clientId = login.sensorId): Uint8Array {
  return mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId, keepalive: 60, username: login.sensorId, password: Buffer.from(login.secret) });
}

const messageId = fc.integer({ min: 0, max: 65535 });
const topic = (login: Login) => fc.oneof(fc.constant(uplinkTopic(login.sensorId)), fc.constant(uplinkTopic("someone-else")), fc.string({ maxLength: 40 }), fc.constantFrom("#", "+/+", "$SYS/x", ""));

/** A packet object of any type with fields drawn loosely around the valid ones. */
export function packet(login: Login): fc.Arbitrary<Packet> {
  const connect = fc.record({
    cmd: fc.constant("connect" as const),
    protocolId: fc.constantFrom("MQTT", "MQIsdp", "MQTX"),
    protocolVersion: fc.constantFrom(3, 4, 5, 0, 6, 255),
    clean: fc.boolean(),
    clientId: fc.oneof(fc.constant(login.sensorId), fc.string({ maxLength: 30 })),
    keepalive: fc.constantFrom(0, 1, 60, 65535),
    username: fc.option(fc.oneof(fc.constant(login.sensorId), fc.string({ maxLength: 20 })), { nil: undefined }),
    password: fc.option(fc.oneof(fc.constant(login.secret), fc.string({ maxLength: 20 })).map((s) => Buffer.from(s)), { nil: undefined }),
    will: fc.option(fc.record({ topic: topic(login), payload: recordInput(fc.constant(login.sensorId)).map((b) => Buffer.from(b)), qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>, retain: fc.boolean() }), { nil: undefined }),
  });
  const publish = fc.record({
    cmd: fc.constant("publish" as const),
    topic: topic(login),
    payload: recordInput(fc.constant(login.sensorId)).map((b) => Buffer.from(b)),
    qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
    messageId,
    retain: fc.boolean(),
    dup: fc.boolean(),
  });
  const acks = fc.record({ cmd: fc.constantFrom("puback", "pubrec", "pubrel", "pubcomp", "unsuback") as fc.Arbitrary<"puback">, messageId });
  const subscribe = fc.record({
    cmd: fc.constant("subscribe" as const),
    messageId,
    subscriptions: fc.array(fc.record({ topic: topic(login), qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2> }), { minLength: 1, maxLength: 3 }),
  });
  const unsubscribe = fc.record({ cmd: fc.constant("unsubscribe" as const), messageId, unsubscriptions: fc.array(topic(login), { minLength: 1, maxLength: 3 }) });
  const bare = fc.record({ cmd: fc.constantFrom("pingreq", "pingresp", "disconnect") as fc.Arbitrary<"pingreq"> });
  const connack = fc.record({ cmd: fc.constant("connack" as const), returnCode: fc.integer({ min: 0, max: 5 }), sessionPresent: fc.boolean() });
  return fc.oneof(connect, publish, publish, acks, subscribe, unsubscribe, bare, connack) as fc.Arbitrary<Packet>;
}

/** A packet's bytes, or none when mqtt-packet refuses to generate it (an impossible combination). */
function generated(p: Packet): Uint8Array {
  try {
    return Uint8Array.from(mqtt.generate(p));
  } catch {
    return new Uint8Array(0);
  }
}

/** The bytes of one element of a session: a packet, a mutated packet, or noise. */
export function chunk(login: Login): fc.Arbitrary<Uint8Array> {
  const bytes = packet(login).map(generated);
  // Mostly whole packets: one malformed chunk ends a session, and what follows a login is worth reaching.
  return fc.oneof({ weight: 8, arbitrary: bytes }, { weight: 2, arbitrary: mutatedBytes(bytes) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }) });
}

export interface Session {
  /** Whether the session starts with the device's valid CONNECT. */
  loggedIn: boolean;
  chunks: Uint8Array[];
  /** How the bytes are cut into socket writes (sizes, cycled). */
  writeSizes: number[];
}

export function session(login: Login): fc.Arbitrary<Session> {
  return fc.record({
    loggedIn: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    chunks: fc.array(chunk(login), { minLength: 1, maxLength: 6 }),
    writeSizes: fc.array(fc.integer({ min: 1, max: 512 }), { minLength: 1, maxLength: 4 }),
  });
}

/**
 * One session for each way a session can end, run before the generated
 * ones, so that every outcome is reached however few sessions the time
 * budget allows: a QoS 1 observation acknowledged, a wrong password, a
 * packet whose length field never ends, a second CONNECT.
 */
export function sessionExamples(login: Login, observation: Uint8Array): Session[] {
  const publish = mqtt.generate({ cmd: "publish", topic: uplinkTopic(login.sensorId), payload: Buffer.from(observation), qos: 1, messageId: 1, retain: false, dup: false });
  const wrongPassword = mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId: login.sensorId, keepalive: 60, username: login.sensorId, password: Buffer.from("not-the-secret") });
  return [
    { loggedIn: true, chunks: [publish], writeSizes: [512] },
    { loggedIn: false, chunks: [wrongPassword], writeSizes: [512] },
    { loggedIn: true, chunks: [Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])], writeSizes: [3] },
    { loggedIn: true, chunks: [connectBytes(login)], writeSizes: [7] },
  ];
}

export function sessionBytes(s: Session, login: Login): Uint8Array {
  return Buffer.concat([...(s.loggedIn ? [connectBytes(login)] : []), ...s.chunks]);
}

export interface OracleVerdict {
  /** Packets that parsed whole, in order. */
  packets: Packet[];
  /** Set when the bytes are malformed (the parser's message). */
  malformed?: string;
}

/** What a server-side parser makes of the bytes a client sent (mqtt-packet, as aedes uses). */
export function oracle(bytes: Uint8Array): OracleVerdict {
  const parser = mqtt.parser({ protocolVersion: 4 });
  const verdict: OracleVerdict = { packets: [] };
  parser.on("packet", (p: Packet) => verdict.packets.push(p));
  parser.on("error", (e: Error) => (verdict.malformed ??= e.message));
  parser.parse(Buffer.from(bytes));
  return verdict;
}
