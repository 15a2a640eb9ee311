/*
 * Loads the stand-in's own .proto files (proto/, written from the protocol
 * facts): the gRPC service definitions through @grpc/proto-loader, and the
 * payload messages carried in google.protobuf.Any through protobufjs.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { fileURLToPath } from "node:url";

// Tests run from dist/tests/support/akka-standin; the .proto files stay in the source tree.
export const PROTO_DIR = fileURLToPath(new URL("../../../../tests/support/akka-standin/proto/", import.meta.url));
export const PROTO_FILES = [
  "akka/projection/grpc/event_producer.proto",
  "akka/projection/grpc/event_consumer.proto",
  "iot/registration/registration.proto",
  "iot/temperature/temperature.proto",
];

/** How the stand-in and its test clients see messages (see wire.ts). */
const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] };

export const REGISTERED_TYPE_URL = "type.googleapis.com/iot.registration.Registered";
export const TEMPERATURE_READ_TYPE_URL = "type.googleapis.com/iot.temperature.TemperatureRead";

export interface StandinServices {
  EventProducerService: grpc.ServiceClientConstructor;
  EventConsumerService: grpc.ServiceClientConstructor;
  RegistrationService: grpc.ServiceClientConstructor;
  SensorTwinService: grpc.ServiceClientConstructor;
}

let services: StandinServices | undefined;
let payloadRoot: protobuf.Root | undefined;

export function standinServices(): StandinServices {
  if (!services) {
    const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS)) as Record<string, any>;
    const akka = loaded.akka.projection.grpc;
    services = {
      EventProducerService: akka.EventProducerService,
      EventConsumerService: akka.EventConsumerService,
      RegistrationService: loaded.iot.registration.RegistrationService,
      SensorTwinService: loaded.iot.temperature.SensorTwinService,
    };
  }
  return services;
}

function payloadType(name: string): protobuf.Type {
  if (!payloadRoot) {
    const root = new protobuf.Root();
    // google/protobuf/*.proto are built into protobufjs; everything else is ours.
    root.resolvePath = (_origin, target) => (target.startsWith("google/protobuf/") ? target : PROTO_DIR + target);
    payloadRoot = root.loadSync(PROTO_FILES, { keepCase: true });
  }
  return payloadRoot.lookupType(name);
}

export function encodeRegistered(secret: string): Buffer {
  const type = payloadType("iot.registration.Registered");
  return Buffer.from(type.encode(type.create({ secret: { value: secret } })).finish());
}

/** The secret of a Registered payload; throws on bytes that are not one. */
export function decodeRegistered(bytes: Uint8Array): string {
  const message = payloadType("iot.registration.Registered").decode(bytes) as unknown as { secret?: { value?: string } };
  return message.secret?.value ?? "";
}

export function encodeTemperatureRead(temperature: number): Buffer {
  const type = payloadType("iot.temperature.TemperatureRead");
  return Buffer.from(type.encode(type.create({ temperature })).finish());
}

/** The temperature of a TemperatureRead payload; throws on bytes that are not one. */
export function decodeTemperatureRead(bytes: Uint8Array): number {
  const message = payloadType("iot.temperature.TemperatureRead").decode(bytes) as unknown as { temperature?: number };
  return message.temperature ?? 0;
}
