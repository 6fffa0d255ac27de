/** What the TDS endpoint answers with: a SqlHandler runs each SQL text into result sets or a SqlServerError. */

export type SqlColumnType = "nvarchar" | "int" | "bigint" | "bit" | "datetimeoffset";

export interface SqlResultSet {
  columns: { name: string; type: SqlColumnType }[];
  /** Rows in column order. May be a lazy (async) iterable: rows are written to the socket as produced. */
  rows: unknown[][] | Iterable<unknown[]> | AsyncIterable<unknown[]>;
}

/**
 * Executes one SQL text. `params` holds sp_executesql's parameters by name without the "@"
 * (`{ after: "ServerTasks-1" }`). Throw SqlServerError for errors the client should see.
 */
export interface SqlHandler {
  execute(sql: string, params: Record<string, unknown>): Promise<SqlResultSet[]> | SqlResultSet[];
}

/** An error answered to the client as a SQL Server ERROR token (number, state, severity). */
export class SqlServerError extends Error {
  constructor(
    readonly number: number,
    message: string,
    readonly state = 1,
    readonly severity = 16,
    /** Errors SQL Server sends before this one in the same response (300 before 297 for a denied DMV). */
    readonly preceding: SqlServerError[] = [],
  ) {
    super(message);
    this.name = "SqlServerError";
  }
}
