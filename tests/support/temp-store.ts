/* A gateway store in a temporary directory for one test, closed and removed afterwards whatever the test does. */
import { ObservationStore } from "../../hosts/gateway/store/observation-store.js";
import { tempDir } from "./test-helpers.js";

export function withStore(run: (store: ObservationStore, dir: string) => void, prefix = "store"): void {
  const dir = tempDir(prefix);
  const store = ObservationStore.open(dir.path);
  try {
    run(store, dir.path);
  } finally {
    store.close();
    dir.remove();
  }
}
