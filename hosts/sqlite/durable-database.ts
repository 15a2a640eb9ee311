/*
 * Opens a SQLite file the way every xsedge store needs it: WAL so readers do
 * not block the writer, synchronous=FULL because a row is acknowledged to
 * someone (a device, a gateway) once its transaction is durable (a store
 * that acknowledges only after WalSync's fsync, as the gateway's and the
 * cloud's do, then runs at NORMAL: wal-sync.ts), and the schema migrated in
 * one transaction by `user_version`.
 *
 * The file, its -wal and its -shm are private to the service's user (0600,
 * or 0640 if the operator gave the group read), whatever the umask: see
 * hosts/auth/private-file.ts. A directory it creates is 0700.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { ensurePrivateDir, preparePrivateFile, tightenFileMode } from "../auth/private-file.js";

/**
 * A store file the program will not run on: restarting cannot fix it, so a
 * command exits with `exitCode` 2 (configuration or data error), which
 * systemd's unit does not restart (RestartPreventExitStatus=2).
 */
export class StoreFileError extends Error {
  readonly exitCode = 2;
  constructor(readonly path: string, message: string) {
    super(message);
    this.name = "StoreFileError";
  }
}

/** The file was written by a newer program; refusing beats guessing at its schema. */
export class StoreVersionError extends StoreFileError {
  constructor(path: string, found: number, supported: number) {
    super(path, `${path}: schema version ${found} is newer than this program's ${supported}`);
    this.name = "StoreVersionError";
  }
}

/** SQLite's companions of a database in WAL mode (and of a rollback journal, left by an older program). */
export const COMPANION_SUFFIXES: readonly string[] = ["-wal", "-shm", "-journal"];


/** What SQLite says of a file that is not a database, or a damaged one. */
const CORRUPTION_CODES = /^SQLITE_(CORRUPT|NOTADB)/;

/** The file is damaged or not a database: named, with where the way out is written down. */
export class StoreCorruptError extends StoreFileError {
  constructor(path: string, cause: Error) {
    super(path, `${path} is damaged or not an SQLite database (${cause.message}); the gateway will not start on it. Keep a copy, then recover what is readable or start empty: see "A damaged store" in the README`);
    this.name = "StoreCorruptError";
    this.cause = cause;
  }
}

/** `error` as a StoreCorruptError when SQLite says the file at `path` is damaged; otherwise itself. */
export function asStoreFileError(path: string, error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && CORRUPTION_CODES.test(code) ? new StoreCorruptError(path, error as Error) : error;
}

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
    throw asStoreFileError(path, e);
  }
  return db;
}

/** The durability settings in force on a connection (synchronous: 1 = NORMAL, the WAL's fsync being WalSync's), for diagnostics and tests. */
export function durabilityOf(db: Database.Database): { journalMode: string; synchronous: number } {
  return {
    journalMode: db.pragma("journal_mode", { simple: true }) as string,
    synchronous: db.pragma("synchronous", { simple: true }) as number,
  };
}
