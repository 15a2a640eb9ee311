/*
 * EventConsumerService over grpc-js: ConsumeEvent stores each event durably
 * (once per persistence id and seq_nr) before it acks it, so an ack means
 * the event survives a restart of the stand-in.
 */
import type * as grpc from "@grpc/grpc-js";
import { ConsumerSession } from "./consumer-protocol.js";
import { unavailable, type ServiceContext } from "./service-context.js";
import { asStatusError, serviceError, StatusError } from "./status-error.js";
import type { ConsumeEventIn, ConsumeEventOut } from "./wire.js";

class ConsumeEventStream {
  readonly #call: grpc.ServerDuplexStream<ConsumeEventIn, ConsumeEventOut>;
  readonly #context: ServiceContext;
  readonly #session = new ConsumerSession();
  #events = 0;
  #closed = false;
  readonly #untrack: () => void;

  constructor(call: grpc.ServerDuplexStream<ConsumeEventIn, ConsumeEventOut>, context: ServiceContext) {
    this.#call = call;
    this.#context = context;
    this.#untrack = context.track((error) => this.#fail(error));
    call.on("data", (message: ConsumeEventIn) => this.#receive(message));
    call.on("end", () => this.#end());
    call.on("cancelled", () => this.#close());
    call.on("error", () => this.#close());
  }

  #receive(message: ConsumeEventIn): void {
    if (this.#closed) return;
    const { store, switches, logger } = this.#context;
    try {
      const step = this.#session.receive(message);
      if (step.kind === "keep-alive") {
        store.count("keep_alives");
      } else if (step.kind === "start") {
        logger.info("ConsumeEvent started", { originId: step.init.origin_id, streamId: step.init.stream_id });
        this.#call.write({ start: { filter: [], replica_info: null } });
      } else {
        const { persistenceId, seqNr } = step.event;
        const outcome = store.consume(step.event);
        if (outcome === "conflict") logger.warn("a different event under a seq_nr already consumed; kept the first", { persistenceId, seqNr });
        if (switches.resetDue(++this.#events)) {
          store.count("streams_reset");
          this.#fail(new StatusError("INTERNAL", `stream reset by the stand-in after ${this.#events} events (fault switch resetAfterEvents)`));
        } else if (switches.settings.neverAck) {
          store.count("acks_withheld");
        } else {
          this.#call.write({ ack: { persistence_id: persistenceId, seq_nr: seqNr } });
        }
      }
    } catch (caught) {
      const e = asStatusError(caught);
      store.count(e.code === "INTERNAL" ? "internal_errors" : "rejected");
      logger.warn("ConsumeEvent refused", { code: e.code, error: e.message });
      this.#fail(e);
    }
  }

  #fail(error: StatusError): void {
    if (this.#closed) return;
    this.#close();
    this.#call.emit("error", serviceError(error));
  }

  #end(): void {
    if (this.#closed) return;
    this.#close();
    this.#call.end();
  }

  #close(): void {
    this.#closed = true;
    this.#untrack();
  }
}

export function consumerService(context: ServiceContext): grpc.UntypedServiceImplementation {
  return {
    ConsumeEvent(call: grpc.ServerDuplexStream<ConsumeEventIn, ConsumeEventOut>) {
      if (unavailable(context, (error) => call.emit("error", serviceError(error)))) return;
      new ConsumeEventStream(call, context);
    },
  };
}
