/*
 * A stand-in in a temp dir with clients of it, for the stand-in's own tests
 * (and any test that wants one in-process), torn down however the test ends.
 */
import { quietLogger, tempDir, within } from "../test-helpers.js";
import { standinClients, type StandinClients } from "./client.js";
import { startAkkaStandin, type AkkaStandin, type AkkaStandinOptions } from "./standin.js";

export async function withStandin(
  options: Partial<AkkaStandinOptions>,
  run: (standin: AkkaStandin, clients: StandinClients, dataDir: string) => Promise<void>,
): Promise<void> {
  const dir = tempDir("akka-standin");
  const standin = await startAkkaStandin({ logger: quietLogger(), ...options, dataDir: options.dataDir ?? dir.path });
  const clients = standinClients(standin.port);
  try {
    await run(standin, clients, options.dataDir ?? dir.path);
  } finally {
    clients.close();
    await within("the stand-in to close", standin.close());
    dir.remove();
  }
}
