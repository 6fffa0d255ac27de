/**
 * Turns mssql/tedious failures into OctohaErrors marked by behaviour: a dropped connection or a
 * timeout is retryable; a wrong password, a missing database or a schema mismatch is fatal.
 * Every message passes the redactor (connection strings carry passwords).
 */
import { OctohaError, type ErrorBehaviour } from "../../shared/errors.js";
import { redactor } from "../../shared/redact.js";

/** Socket-level codes mssql and tedious use for a connection that broke or never came up. */
const TRANSIENT_CODES = new Set(["ESOCKET", "ECONNCLOSED", "ECONNRESET", "ETIMEOUT", "ETIMEDOUT", "ECONNREFUSED", "EPIPE", "ENOTOPEN"]);
/** SQL Server error numbers documented as transient (deadlock victim, Azure SQL throttling/failover). */
const TRANSIENT_NUMBERS = new Set([1205, 40197, 40501, 40613, 49918, 49919, 49920, 4221, 10928, 10929]);

interface DriverError {
  name?: string;
  code?: string;
  number?: number;
  message?: string;
  originalError?: DriverError & { errors?: DriverError[] };
  errors?: DriverError[];
  /** mssql puts the errors before the last one here (tedious: 300 "VIEW SERVER STATE permission was denied" before 297). */
  precedingErrors?: DriverError[];
}

/** The SQL Server error numbers anywhere in the error (tedious nests login errors). */
function numbersOf(e: DriverError | undefined, depth = 0): number[] {
  if (!e || depth > 4) return [];
  return [
    ...(typeof e.number === "number" ? [e.number] : []),
    ...numbersOf(e.originalError, depth + 1),
    ...(e.errors ?? []).flatMap((x) => numbersOf(x, depth + 1)),
    ...(e.precedingErrors ?? []).flatMap((x) => numbersOf(x, depth + 1)),
  ];
}

export interface SqlErrorContext {
  /** What octoha was doing: "reading ServerTask rows". */
  doing: string;
  /** The environment variable the connection string came from, for the hint. */
  envVar?: string;
  /**
   * ERROR tokens the server sent during login. tedious keeps only the last one ("Login failed"),
   * which hides the useful first one (4060 "Cannot open database").
   */
  serverMessages?: { number: number; message: string }[];
}

export function toOctohaError(error: unknown, ctx: SqlErrorContext): OctohaError {
  if (error instanceof OctohaError) return error;
  const e = (error ?? {}) as DriverError;
  const server = ctx.serverMessages ?? [];
  const message = redactor.redact(server.length > 0 ? server.map((m) => m.message).join(" ") : (e.message ?? String(error)));
  const numbers = [...numbersOf(e), ...server.map((m) => m.number)];
  const where = ctx.envVar ? `the connection string in ${ctx.envVar}` : "the connection string";
  const make = (code: string, behaviour: ErrorBehaviour, summary: string, hint: string): OctohaError =>
    new OctohaError(`${summary} while ${ctx.doing}: ${message}`, { code, behaviour, hint, cause: redactedCause(e, message) });

  if (numbers.includes(4060)) {
    return make(
      "SQL_DATABASE_NOT_FOUND",
      "fatal",
      "SQL Server cannot open the database",
      `Check Database=/Initial Catalog= in ${where}: it must name the Octopus database, and the login must have access to it.`,
    );
  }
  if (numbers.includes(18456) || e.code === "ELOGIN") {
    return make(
      "SQL_LOGIN_FAILED",
      "fatal",
      "SQL Server refused the login",
      `Check User Id and Password in ${where} (a SQL login: octoha cannot use Integrated Security), and on ` +
        "the SQL Server that the login exists, is enabled, SQL Server authentication (mixed mode) is on, and the " +
        "login is mapped to the Octopus database with read access. SQL Server's error log gives the reason (the " +
        "state of error 18456); octoha never prints the password.",
    );
  }
  if (numbers.some((n) => n === 208 || n === 207)) {
    return make(
      "SQL_SCHEMA_MISMATCH",
      "fatal",
      "A table or column octoha expected is missing",
      "The schema changed since the probe, or this is not an Octopus database. Run `octoha check` to probe it again.",
    );
  }
  if (numbers.some((n) => n === 229 || n === 297 || n === 300)) {
    return make(
      "SQL_PERMISSION_DENIED",
      "fatal",
      "SQL Server denied a read",
      "Grant the login read access (db_datareader) on the Octopus database; octoha only reads.",
    );
  }
  if (
    (e.code && TRANSIENT_CODES.has(e.code)) ||
    (e.originalError?.code && TRANSIENT_CODES.has(e.originalError.code)) ||
    numbers.some((n) => TRANSIENT_NUMBERS.has(n))
  ) {
    return make(
      "SQL_CONNECTION_LOST",
      "retryable",
      "The SQL Server connection failed",
      "A network drop, failover or timeout. Retrying usually works; if it keeps failing, check that SQL Server is reachable from this machine.",
    );
  }
  if (e.code === "ECANCEL") {
    return make("SQL_CANCELLED", "fatal", "The SQL request was cancelled", "octoha cancelled it (interrupt or shutdown).");
  }
  return make(
    "SQL_QUERY_FAILED",
    "fatal",
    "A SQL query failed",
    "This is unexpected for octoha's read-only queries: check the database and octoha's version support.",
  );
}

/** Keeps the cause chain for debugging without carrying the raw (possibly secret) message along. */
function redactedCause(e: DriverError, message: string): Error {
  const cause = new Error(message);
  cause.name = e.name ?? "Error";
  return Object.assign(cause, { code: e.code, number: e.number, numbers: numbersOf(e) });
}
