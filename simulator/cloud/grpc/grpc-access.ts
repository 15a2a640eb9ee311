/*
 * Credentials on the cloud's gRPC port (access.ts says who may do what).
 *
 * A server interceptor sees every call's metadata before its handler runs:
 * a call without a credential, or with one that matches no token, ends
 * there with UNAUTHENTICATED, whatever its method (so a method added later
 * is closed until someone opens it), and a call to a method whose action is
 * fixed (Register, ConsumeEvent, GetTemperature) with PERMISSION_DENIED when
 * the role may not. EventsBySlices, LoadEvent and EventTimestamp serve both
 * streams, so their handlers check the stream's action (`refusalFor`) once
 * they know which.
 */
import * as grpc from "@grpc/grpc-js";
import { EVENT_CONSUMER_SERVICE, REGISTRATION_SERVICE, SENSOR_TWIN_SERVICE } from "../../../hosts/grpc/protocol.js";
import type { CloudAccess, CloudAction, Decision, Presentation } from "../access.js";
import { REGISTRATION_STREAM } from "./event-journal.js";
import { statusError, type StatusError } from "./grpc-status.js";

/** What a handler's call tells about its caller (every kind of server call has these). */
export type Caller = Pick<grpc.ServerUnaryCall<unknown, unknown>, "metadata" | "getPeer" | "getAuthContext">;
type AuthContext = ReturnType<Caller["getAuthContext"]>;

const FIXED_ACTIONS: Readonly<Record<string, CloudAction>> = Object.freeze({
  [`/${REGISTRATION_SERVICE}/Register`]: "register",
  [`/${EVENT_CONSUMER_SERVICE}/ConsumeEvent`]: "observations.write",
  [`/${SENSOR_TWIN_SERVICE}/GetTemperature`]: "observations.read",
});

/** What a stream's events need: the registration events carry secrets' digests. */
export function streamAction(streamId: string): CloudAction {
  return streamId === REGISTRATION_STREAM ? "registrations.read" : "observations.read";
}

/** "ipv4:10.0.0.5:51234", "[::1]:51234" or "10.0.0.5:51234" → the address alone (the throttle's key). */
export function peerAddress(peer: string): string {
  return peer.replace(/^ipv[46]:/, "").replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
}

function presentation(metadata: grpc.Metadata, authContext: AuthContext | null | undefined, clientCertificates: boolean): Presentation {
  const values = metadata.get("authorization").filter((value): value is string => typeof value === "string");
  return {
    authorization: values.length > 1 ? values : values[0],
    // grpc-js reports a peer certificate only when it verified it against the CA.
    verifiedCertificate: clientCertificates && authContext?.sslPeerCertificate !== undefined,
  };
}

function statusOf(decision: Decision & { ok: false }): grpc.status {
  return decision.reason === "forbidden" ? grpc.status.PERMISSION_DENIED : grpc.status.UNAUTHENTICATED;
}

/** `clientCertificates`: the port requires them (--grpc-ca), so a verified one is a gateway credential. */
export function accessInterceptor(access: CloudAccess, clientCertificates: boolean): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, proceed) => {
            const presented = presentation(metadata, call.getAuthContext(), clientCertificates);
            const action = FIXED_ACTIONS[method.path];
            const what = method.path.slice(method.path.lastIndexOf("/") + 1);
            const address = peerAddress(call.getPeer());
            let decision: Decision;
            if (action !== undefined) decision = access.decide(action, presented, what, address);
            else {
              const identity = access.identify(presented);
              decision = identity.ok ? identity : access.refuse(identity.reason, what, address);
            }
            if (decision.ok) return proceed(metadata);
            call.sendStatus({ code: statusOf(decision), details: decision.message, metadata: new grpc.Metadata() });
          },
        }),
    });
}

/** For a handler that learnt the stream: the status error to end the call with, or undefined when the caller may. */
export function refusalFor(access: CloudAccess, action: CloudAction, call: Caller, what: string, clientCertificates: boolean): StatusError | undefined {
  const decision = access.decide(action, presentation(call.metadata, call.getAuthContext(), clientCertificates), what, peerAddress(call.getPeer()));
  return decision.ok ? undefined : statusError(statusOf(decision), decision.message);
}
