/*
 * Opens a SQLite file the way every xsedge store needs it: WAL so readers do
 * not block the writer, synchronous=FULL because a row is acknowledged to
 * someone (a device, a gateway) as soon as its transaction commits, and the
 * schema migrated in one transaction by `user_version`.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

/** The file was written by a newer program; refusing beats guessing at its schema. */
export class StoreVersionError extends Error {
  constructor(path: string, found: number, supported: number) {
    super(`${path}: schema version ${found} is newer than this program's ${supported}`);
    this.name = "StoreVersionError";
  }
}

/** `migrations[n]` takes the schema from version n to n + 1. */
export function openDurableDatabase(dataDir: string, file: string, migrations: readonly string[]): Database.Database {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, file);
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    const found = db.pragma("user_version", { simple: true }) as number;
    if (found > migrations.length) throw new StoreVersionError(path, found, migrations.length);
    if (found < migrations.length) {
      db.transaction(() => {
        for (let version = found; version < migrations.length; version++) db.exec(migrations[version]);
        db.pragma(`user_version = ${migrations.length}`);
      })();
    }
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}
