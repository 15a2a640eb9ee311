/*
 * Opens a SQLite file the way every xsedge store needs it: WAL so readers do
 * not block the writer, synchronous=FULL because a row is acknowledged to
 * someone (a device, a gateway) as soon as its transaction commits, and the
 * schema migrated in one transaction by `user_version`.
 *
 * The file, its -wal and its -shm are private to the service's user (0600,
 * or 0640 if the operator gave the group read), whatever the umask: see
 * hosts/auth/private-file.ts. A directory it creates is 0700.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { ensurePrivateDir, preparePrivateFile, tightenFileMode } from "../auth/private-file.js";

/** The file was written by a newer program; refusing beats guessing at its schema. */
export class StoreVersionError extends Error {
  constructor(path: string, found: number, supported: number) {
    super(`${path}: schema version ${found} is newer than this program's ${supported}`);
    this.name = "StoreVersionError";
  }
}

/** SQLite's companions of a database in WAL mode (and of a rollback journal, left by an older program). */
export const COMPANION_SUFFIXES: readonly string[] = ["-wal", "-shm", "-journal"];

/**
 * `migrations[n]` takes the schema from version n to n + 1. `setup` runs
 * before the migrations, e.g. to register an SQL function one of them calls.
 */
export function openDurableDatabase(dataDir: string, file: string, migrations: readonly string[], setup?: (db: Database.Database) => void): Database.Database {
  ensurePrivateDir(dataDir);
  const path = join(dataDir, file);
  // Before SQLite opens it: the -wal and -shm it creates take this file's mode.
  preparePrivateFile(path);
  for (const suffix of COMPANION_SUFFIXES) tightenFileMode(path + suffix);
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    setup?.(db);
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
