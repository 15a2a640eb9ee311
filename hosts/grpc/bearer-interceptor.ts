/*
 * A gRPC client's credential: `authorization: Bearer <token>` in the
 * metadata of every call, through a client interceptor rather than call
 * credentials, since grpc-js refuses call credentials on a plaintext (h2c)
 * channel, and the Akka sample runs plaintext on a LAN. Over plaintext the
 * token crosses the network in the clear: the README says to use TLS
 * beyond one machine.
 */
import * as grpc from "@grpc/grpc-js";
import { bearer } from "../auth/bearer.js";

export function bearerInterceptor(token: string): grpc.Interceptor {
  const value = bearer(token);
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", value);
        next(metadata, listener);
      },
    });
}

/** Client options carrying `token` on every call, if there is one. */
export function tokenOptions(token: string | undefined): Pick<grpc.ClientOptions, "interceptors"> {
  return token === undefined ? {} : { interceptors: [bearerInterceptor(token)] };
}
