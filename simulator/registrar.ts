/*
 * `xsedge sim --cloud`: registers each simulated device at the cloud before
 * it starts, so a gateway that follows that cloud's registrations lets it
 * in. Two ways, by the address: an http(s):// URL is the reference cloud's
 * HTTP API (POST /api/v1/sensors {sensorId, secret}); host:port is Akka
 * gRPC, the Akka sample's RegistrationService.Register. A token, when
 * given, goes as `authorization: Bearer <token>` on either.
 */
import * as grpc from "@grpc/grpc-js";
import { grpcService, REGISTRATION_SERVICE } from "../hosts/grpc/protocol.js";
import type { DeviceCredentials } from "./devices-file.js";

/** One registration is one small write at the cloud: longer than this, the cloud is not answering. */
export const REGISTER_TIMEOUT_MS = 10_000;

export type CloudAddress = { kind: "http"; url: string } | { kind: "grpc"; target: string };

/** "http://host:8102" or "host:8101"; undefined if it is neither. */
export function parseCloudAddress(text: string): CloudAddress | undefined {
  if (/^https?:\/\//.test(text)) {
    try {
      new URL(text);
      return { kind: "http", url: text.replace(/\/+$/, "") };
    } catch {
      return undefined;
    }
  }
  return /^[A-Za-z0-9.-]+:\d{1,5}$/.test(text) || /^\[[0-9A-Fa-f:]+\]:\d{1,5}$/.test(text) ? { kind: "grpc", target: text } : undefined;
}

export class RegistrationError extends Error {}

export interface Registrar {
  register(device: DeviceCredentials): Promise<void>;
  close(): void;
}

function describe(address: CloudAddress): string {
  return address.kind === "http" ? address.url : `${address.target} (gRPC RegistrationService)`;
}

export function createRegistrar(address: CloudAddress, token: string | undefined): Registrar {
  if (address.kind === "http") {
    return {
      async register({ sensorId, secret }) {
        let response: Response;
        try {
          response = await fetch(`${address.url}/api/v1/sensors`, {
            method: "POST",
            headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
            body: JSON.stringify({ sensorId, secret }),
            signal: AbortSignal.timeout(REGISTER_TIMEOUT_MS),
          });
        } catch (error) {
          throw new RegistrationError(`registering ${sensorId} at ${describe(address)} failed: ${(error as Error).message}`);
        }
        if (!response.ok) {
          const body = (await response.text()).slice(0, 300);
          throw new RegistrationError(`registering ${sensorId} at ${describe(address)} failed: HTTP ${response.status} ${body}`);
        }
      },
      close() {},
    };
  }
  const Client = grpcService(REGISTRATION_SERVICE);
  const client = new Client(address.target, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Register(request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null) => void): void;
  };
  return {
    register({ sensorId, secret }) {
      const metadata = new grpc.Metadata();
      if (token) metadata.set("authorization", `Bearer ${token}`);
      return new Promise((resolve, reject) => {
        client.Register({ sensor_entity_id: sensorId, secret }, metadata, { deadline: Date.now() + REGISTER_TIMEOUT_MS }, (error) => {
          if (error) reject(new RegistrationError(`registering ${sensorId} at ${describe(address)} failed: ${grpc.status[error.code] ?? error.code}: ${error.details}`));
          else resolve();
        });
      });
    },
    close: () => client.close(),
  };
}
