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
import { TokenError } from "../../hosts/auth/bearer.js";
import { tokenSetsOf } from "./access.js";
import { isLoopbackHost } from "../../hosts/http/loopback.js";
import { describeSource, resolveCloudCredentials, TOKEN_ENV } from "./credentials.js";
import { DEFAULT_ACCEPTED_STREAMS } from "./grpc/consumer-service.js";
import { DEFAULT_CLOUD_GRPC_PORT, DEFAULT_CLOUD_HTTP_PORT, startCloud } from "./server.js";

export const CLOUD_USAGE = `Usage: xsedge cloud [options]

Runs the reference cloud registration service: sensor registration, the
observation log that gateways relay to, and a live Server-Sent Events stream
(HTTP); the same over Akka Projection gRPC (EventProducerService,
EventConsumerService, RegistrationService, SensorTwinService).

Every call but GET /healthz needs "authorization: Bearer <token>" with a
token of a role that may make it; with --grpc-ca, a gRPC client's verified
certificate counts as a gateway token. The log says where each role's
tokens come from, never the tokens.

Options:
  --host <addr>            interface to listen on (default 127.0.0.1)
  --port <port>            HTTP port, 0 for any free one (default ${DEFAULT_CLOUD_HTTP_PORT})
  --grpc-port <port>       gRPC port, 0 for any free one (default ${DEFAULT_CLOUD_GRPC_PORT})
  --grpc-cert <file>       PEM certificate for TLS on the gRPC port (with --grpc-key)
  --grpc-key <file>        its PEM private key
  --grpc-ca <file>         PEM CA: gRPC clients must present a certificate it signed
  --accept-streams <ids>   stream ids ConsumeEvent accepts, comma-separated (default ${DEFAULT_ACCEPTED_STREAMS.join(",")})
  --data-dir <dir>         where the SQLite store lives (default ./data/cloud)
  --admin-token-file <f>   tokens that may register sensors, one a line (or ${TOKEN_ENV.admin};
                           default <data-dir>/credentials/admin.token, created 0600 if missing)
  --gateway-token-file <f> tokens of gateways: registration streams, relaying observations (or
                           ${TOKEN_ENV.gateway}; default <data-dir>/credentials/gateway.token, created)
  --consumer-token-file <f>  tokens that may only read observations (or ${TOKEN_ENV.consumer}; default none)
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

/** The credentials, read or created now; a bad source is a usage error (exit 2) naming it. */
function credentialsOf(dataDir: string, files: Parameters<typeof resolveCloudCredentials>[0]["files"], env: Readonly<Record<string, string | undefined>>) {
  try {
    const resolved = resolveCloudCredentials({ dataDir, files, env });
    // Checked here, not only at start, so that a token in two roles is a usage error.
    tokenSetsOf(resolved.credentials);
    return resolved;
  } catch (error) {
    if (error instanceof TokenError) throw new UsageError(`credentials: ${error.message}`);
    throw error;
  }
}

function parse(argv: string[], env: Readonly<Record<string, string | undefined>>) {
  const values = parseFlags(argv, {
    host: { type: "string" },
    port: { type: "string" },
    "grpc-port": { type: "string" },
    "grpc-cert": { type: "string" },
    "grpc-key": { type: "string" },
    "grpc-ca": { type: "string" },
    "accept-streams": { type: "string" },
    "data-dir": { type: "string" },
    "admin-token-file": { type: "string" },
    "gateway-token-file": { type: "string" },
    "consumer-token-file": { type: "string" },
    ...LOG_OPTIONS,
    help: { type: "boolean", short: "h" },
  });
  const flag = (name: string) => stringFlag(values, name);
  const file = (name: string) => {
    const value = flag(name);
    return value === undefined ? undefined : resolve(value);
  };
  const common = {
    help: values.help === true,
    host: flag("host") ?? "127.0.0.1",
    port: parsePort("--port", flag("port") ?? String(DEFAULT_CLOUD_HTTP_PORT)),
    grpcPort: parsePort("--grpc-port", flag("grpc-port") ?? String(DEFAULT_CLOUD_GRPC_PORT)),
    grpcTls: parseTls(flag("grpc-cert"), flag("grpc-key"), flag("grpc-ca")),
    acceptedStreams: parseStreams(flag("accept-streams") ?? DEFAULT_ACCEPTED_STREAMS.join(",")),
    dataDir: resolve(flag("data-dir") ?? "./data/cloud"),
    log: parseLogOptions(values),
  };
  if (values.help === true) return { ...common, credentials: undefined };
  const files = { admin: file("admin-token-file"), gateway: file("gateway-token-file"), consumer: file("consumer-token-file") };
  return { ...common, credentials: credentialsOf(common.dataDir, files, env) };
}

export function cloudCommand(argv: string[], io: CommandIo = processIo, env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  return runService("cloud", io, CLOUD_USAGE, () => parse(argv, env), async (options, logger) => {
    const { host, port, grpcPort, grpcTls, acceptedStreams, dataDir } = options;
    // parse() resolves them whenever it returns without help, the only case runService starts.
    const resolved = options.credentials as ReturnType<typeof resolveCloudCredentials>;
    for (const source of resolved.sources) logger.info(describeSource(source), { role: source.role, file: source.path ?? null });
    if (!isLoopbackHost(host)) {
      // Bearer tokens over plaintext are readable on the path: the operator should know before a gateway sends one.
      logger.warn(`HTTP on ${host} carries tokens in the clear: put a TLS reverse proxy in front of it (README, Security)`, { host });
      if (grpcTls === undefined) logger.warn(`gRPC on ${host} without --grpc-cert carries tokens in the clear`, { host });
    }
    const cloud = await startCloud({ host, port, grpcPort, grpcTls, acceptedStreams, dataDir, logger, credentials: resolved.credentials });
    cloud.onObservation((obs) => logger.debug("observation stored", { offset: obs.offset, sensorId: obs.sensorId, seq: obs.seq }));
    return cloud;
  });
}
