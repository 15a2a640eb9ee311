/*
 * Files that only the service's user may read: the SQLite stores with their
 * WAL and SHM files, and credential files. Node and SQLite create files with
 * 0666 or 0644 less the process's umask, so a service started with umask 022
 * (any shell, cron) leaves device registrations and observations readable by
 * every local user, and one with umask 000 even writable. Here a file is
 * created 0600 whatever the umask (the mode is set again after creation,
 * since the umask may have removed bits but never adds them), and a file
 * found with looser bits is tightened: one others may read (the 0644 of an
 * older version) becomes 0600; one with group read only, 0640, is kept, as
 * the operator's grant to the service's group (for backups); group write
 * and execute bits go.
 *
 * SQLite gives a database's -wal and -shm files the mode of the database
 * file itself, so creating the database file 0600 before SQLite opens it is
 * what keeps all three private.
 */
import { chmodSync, closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;
/** The most a private file may allow: owner read and write, group read. */
export const MAX_PRIVATE_FILE_MODE = 0o640;

/** Creates `dir` (and its parents) 0700 if missing; an existing directory keeps the mode its operator gave it. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Tightens an existing file: 0600 if others had any bit, else at most
 * 0640. Returns the mode it had when it was changed, undefined when it was
 * fine or is missing.
 */
export function tightenFileMode(path: string): number | undefined {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o7777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  if ((mode & ~MAX_PRIVATE_FILE_MODE) === 0) return undefined;
  // Others' bits mean nobody chose this mode (a umask did), so the group's read is no choice either.
  chmodSync(path, (mode & 0o007) !== 0 ? PRIVATE_FILE_MODE : mode & MAX_PRIVATE_FILE_MODE);
  return mode;
}

/** Creates `path` empty with mode 0600 if it does not exist; tightens it if it does. */
export function preparePrivateFile(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, "wx", PRIVATE_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    tightenFileMode(path);
    return;
  }
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `text` to `path` as a 0600 file, atomically: a temporary file beside
 * it, synced, then renamed over it, so a reader never sees half a credential
 * and a crash leaves the old file or the new one.
 */
export function writePrivateFile(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  rmSync(temporary, { force: true });
  const fd = openSync(temporary, "wx", PRIVATE_FILE_MODE);
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}
