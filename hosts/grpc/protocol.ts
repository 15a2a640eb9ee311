/*
 * The Akka Projection gRPC protocol as this project speaks it: the .proto
 * files under proto/ (written from shared/akka-projection-grpc.md), loaded
 * once into grpc-js service definitions and a protobufjs root for the
 * payloads that travel inside google.protobuf.Any.
 *
 * Decoded messages keep the proto's snake_case names (keepCase), int64 as
 * decimal strings (longs: String: a seq_nr past 2^53 must be refused, not
 * rounded), a oneof's chosen field named by its oneof property (e.g.
 * `message: "event"`), and unset sub-messages as null.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

// Compiled to dist/hosts/grpc/; the .proto files stay in the source tree.
export const PROTO_ROOT = fileURLToPath(new URL("../../../hosts/grpc/proto/", import.meta.url));

export const PROTO_FILES: readonly string[] = Object.freeze([
  "akka/projection/grpc/event_producer.proto",
  "akka/projection/grpc/event_consumer.proto",
  "iot/registration/registration.proto",
  "iot/temperature/temperature.proto",
  "xsedge/observation/v1/observation.proto",
]);

export const LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
});

let loaded: { services: grpc.GrpcObject; root: protobuf.Root } | undefined;

function load(): { services: grpc.GrpcObject; root: protobuf.Root } {
  if (loaded === undefined) {
    const definition = protoLoader.loadSync([...PROTO_FILES], { ...LOADER_OPTIONS, includeDirs: [PROTO_ROOT] });
    const root = new protobuf.Root();
    // google/protobuf/*.proto come from protobufjs's bundled copies; ours from PROTO_ROOT.
    root.resolvePath = (_origin, target) => (target.startsWith("google/protobuf/") ? target : join(PROTO_ROOT, target));
    root.loadSync([...PROTO_FILES], { keepCase: true });
    root.resolveAll();
    loaded = { services: grpc.loadPackageDefinition(definition), root };
  }
  return loaded;
}

function service(path: string): grpc.ServiceClientConstructor {
  let node: unknown = load().services;
  for (const part of path.split(".")) node = (node as Record<string, unknown>)[part];
  if (typeof node !== "function") throw new Error(`no gRPC service ${path} in ${PROTO_FILES.join(", ")}`);
  return node as grpc.ServiceClientConstructor;
}

export const EVENT_PRODUCER_SERVICE = "akka.projection.grpc.EventProducerService";
export const EVENT_CONSUMER_SERVICE = "akka.projection.grpc.EventConsumerService";
export const REGISTRATION_SERVICE = "iot.registration.RegistrationService";
export const SENSOR_TWIN_SERVICE = "iot.temperature.SensorTwinService";

/** The client constructor of one of the services above (its `.service` is the server's definition). */
export function grpcService(name: string): grpc.ServiceClientConstructor {
  return service(name);
}

/** A message type, for packing and unpacking google.protobuf.Any payloads. */
export function messageType(fullName: string): protobuf.Type {
  return load().root.lookupType(fullName);
}
