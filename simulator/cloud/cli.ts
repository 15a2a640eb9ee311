/*
 * `xsedge cloud`: runs the reference cloud service until SIGINT or SIGTERM.
 * Returns the exit code: 0 after a clean stop, 1 if it could not start,
 * 2 for a usage error.
 */
import { resolve } from "node:path";
import {
  LOG_OPTIONS, parseFlags, parseLogOptions, parsePort, processIo, runService, stringFlag, UsageError, type CommandIo,
} from "../../hosts/cli/command.js";
import type { ServerTlsFiles } from "../../hosts/grpc/tls.js";
import { DEFAULT_ACCEPTED_STREAMS } from "./grpc/consumer-service.js";
import { DEFAULT_CLOUD_GRPC_PORT, DEFAULT_CLOUD_HTTP_PORT, startCloud } from "./server.js";

export const CLOUD_USAGE = `Usage: xsedge cloud [options]

Runs the reference cloud registration service: sensor registration, the
observation log that gateways relay to, and a live Server-Sent Events stream
(HTTP); the same over Akka Projection gRPC (EventProducerService,
EventConsumerService, RegistrationService, SensorTwinService).

Options:
  --host <addr>            interface to listen on (default 127.0.0.1)
  --port <port>            HTTP port, 0 for any free one (default ${DEFAULT_CLOUD_HTTP_PORT})
  --grpc-port <port>       gRPC port, 0 for any free one (default ${DEFAULT_CLOUD_GRPC_PORT})
  --grpc-cert <file>       PEM certificate for TLS on the gRPC port (with --grpc-key)
  --grpc-key <file>        its PEM private key
  --grpc-ca <file>         PEM CA: gRPC clients must present a certificate it signed
  --accept-streams <ids>   stream ids ConsumeEvent accepts, comma-separated (default ${DEFAULT_ACCEPTED_STREAMS.join(",")})
  --data-dir <dir>         where the SQLite store lives (default ./data/cloud)
  --log-level <level>      debug, info, warn or error (default info)
  --log-format <format>    json or pretty (default json)
  -h, --help               show this help
`;

function parseTls(cert: string | undefined, key: string | undefined, ca: string | undefined): ServerTlsFiles | undefined {
  if (cert === undefined && key === undefined) {
    if (ca !== undefined) throw new UsageError("--grpc-ca needs --grpc-cert and --grpc-key (client certificates need TLS)");
    return undefined;
  }
  if (cert === undefined || key === undefined) throw new UsageError("--grpc-cert and --grpc-key go together");
  return ca === undefined ? { certFile: resolve(cert), keyFile: resolve(key) } : { certFile: resolve(cert), keyFile: resolve(key), caFile: resolve(ca) };
}

function parseStreams(value: string): string[] {
  const ids = value.split(",").map((id) => id.trim());
  if (ids.some((id) => id === "")) throw new UsageError(`--accept-streams must be stream ids separated by commas, got "${value}"`);
  return ids;
}

function parse(argv: string[]) {
  const values = parseFlags(argv, {
    host: { type: "string" },
    port: { type: "string" },
    "grpc-port": { type: "string" },
    "grpc-cert": { type: "string" },
    "grpc-key": { type: "string" },
    "grpc-ca": { type: "string" },
    "accept-streams": { type: "string" },
    "data-dir": { type: "string" },
    ...LOG_OPTIONS,
    help: { type: "boolean", short: "h" },
  });
  const flag = (name: string) => stringFlag(values, name);
  return {
    help: values.help === true,
    host: flag("host") ?? "127.0.0.1",
    port: parsePort("--port", flag("port") ?? String(DEFAULT_CLOUD_HTTP_PORT)),
    grpcPort: parsePort("--grpc-port", flag("grpc-port") ?? String(DEFAULT_CLOUD_GRPC_PORT)),
    grpcTls: parseTls(flag("grpc-cert"), flag("grpc-key"), flag("grpc-ca")),
    acceptedStreams: parseStreams(flag("accept-streams") ?? DEFAULT_ACCEPTED_STREAMS.join(",")),
    dataDir: resolve(flag("data-dir") ?? "./data/cloud"),
    log: parseLogOptions(values),
  };
}

export function cloudCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  return runService("cloud", io, CLOUD_USAGE, () => parse(argv), async (options, logger) => {
    const { host, port, grpcPort, grpcTls, acceptedStreams, dataDir } = options;
    const cloud = await startCloud({ host, port, grpcPort, grpcTls, acceptedStreams, dataDir, logger });
    cloud.onObservation((obs) => logger.debug("observation stored", { offset: obs.offset, sensorId: obs.sensorId, seq: obs.seq }));
    return cloud;
  });
}
