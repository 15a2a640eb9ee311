/*
 * Records what a client stream receives and how it ends, so a test can wait
 * for "3 messages" or "the status" with the bounded waits of test-helpers.
 */
import type * as grpc from "@grpc/grpc-js";
import { waitFor } from "../test-helpers.js";

export class StreamRecorder<T> {
  readonly messages: T[] = [];
  /** The status the stream ended with, if it ended with an error. */
  error: grpc.ServiceError | undefined;
  ended = false;

  constructor(stream: grpc.ClientDuplexStream<never, T>) {
    stream.on("data", (message: T) => this.messages.push(message));
    stream.on("error", (error: grpc.ServiceError) => {
      this.error = error;
      this.ended = true;
    });
    stream.on("end", () => (this.ended = true));
  }

  async count(n: number): Promise<T[]> {
    await waitFor(`${n} messages (have ${this.messages.length}${this.error ? `, ended: ${this.error.details}` : ""})`, () => this.messages.length >= n);
    return this.messages.slice(0, n);
  }

  /** Waits for the stream to end with an error and returns it. */
  async failure(): Promise<grpc.ServiceError> {
    return waitFor(`the stream to fail (have ${this.messages.length} messages)`, () => this.error);
  }
}
