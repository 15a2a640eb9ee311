/*
 * The part of better-sqlite3's API that the gateway and the reference cloud
 * use. @types/better-sqlite3 is not installed; when it is, delete this file
 * (the two would declare the same module twice).
 */
declare module "better-sqlite3" {
  namespace Database {
    interface RunResult {
      changes: number;
      lastInsertRowid: number | bigint;
    }

    interface Statement<Params extends unknown[] = unknown[], Row = unknown> {
      run(...params: Params): RunResult;
      get(...params: Params): Row | undefined;
      all(...params: Params): Row[];
    }

    interface Options {
      readonly?: boolean;
      fileMustExist?: boolean;
      /** Milliseconds to wait on a locked database before SQLITE_BUSY. */
      timeout?: number;
    }

    interface Database {
      readonly open: boolean;
      readonly name: string;
      readonly inTransaction: boolean;
      prepare<Params extends unknown[] = unknown[], Row = unknown>(sql: string): Statement<Params, Row>;
      exec(sql: string): this;
      pragma(source: string, options?: { simple?: boolean }): unknown;
      transaction<Args extends unknown[], Result>(fn: (...args: Args) => Result): (...args: Args) => Result;
      /** Registers an SQL function (e.g. one a migration calls). */
      function(name: string, options: { deterministic?: boolean }, fn: (...args: unknown[]) => unknown): this;
      close(): this;
    }
  }

  interface DatabaseConstructor {
    new (filename: string, options?: Database.Options): Database.Database;
  }

  const Database: DatabaseConstructor;
  export = Database;
}
