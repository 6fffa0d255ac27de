/**
 * The light T-SQL → SQLite rewriting the stand-in does for the fixed set of read-only queries
 * octoha sends: TOP, N'' literals, a trailing ";", @@SERVERNAME. [brackets], @params and schema-qualified names
 * (dbo., INFORMATION_SCHEMA., sys. are attached databases) already mean the same in SQLite.
 * Constructs whose meaning differs (string "+", "||") or that SQLite lacks are refused with a
 * SQL Server-style error: a wrong answer is worse than none.
 */
import { SqlServerError } from "./tds/handler.js";

export interface RewrittenQuery {
  sql: string;
  /** Parameter names the text uses, without "@". */
  params: string[];
}

/** Matches, in order: a string literal (optionally N-prefixed), or an @param / @@variable. */
const LEXEME = /(N?)'((?:[^']|'')*)'|(@@?)(\w+)/g;

export function notSupported(what: string): SqlServerError {
  return new SqlServerError(50000, `${what} is not supported by the octoha stand-in (it answers the read-only queries octoha sends).`);
}

export function rewriteTsql(text: string): RewrittenQuery {
  let sql = text.trim().replace(/;\s*$/, "");
  const params = new Set<string>();
  sql = sql.replace(
    LEXEME,
    (match: string, _n: string | undefined, body: string | undefined, at: string | undefined, name: string | undefined) => {
      // @@SERVERNAME is a function the engine registers (sql-engine.ts); other system variables are not simulated.
      if (at === "@@" && name!.toLowerCase() === "servername") return "octoha_servername()";
      if (at === "@@") throw notSupported(`The system variable @@${name}`);
      if (at === "@") {
        params.add(name!);
        return match;
      }
      return `'${body}'`;
    },
  );
  const unquoted = sql.replace(/'(?:[^']|'')*'/g, "''");
  if (unquoted.includes(";")) throw notSupported("More than one statement per request");
  if (!/^\s*select\b/i.test(unquoted)) throw notSupported(`The statement "${firstWords(unquoted)}" (only SELECT)`);
  if (/\+|\|\|/.test(unquoted)) throw notSupported("The + and || operators (T-SQL and SQLite disagree on strings)");
  const top = /^\s*select\s+(distinct\s+)?top\s*(?:\(\s*(@\w+|\d+)\s*\)|(\d+))/i.exec(sql);
  if (top) {
    const limit = top[2] ?? top[3];
    sql = `SELECT ${top[1] ?? ""}${sql.slice(top[0].length)} LIMIT ${limit}`;
  }
  return { sql, params: [...params] };
}

function firstWords(s: string): string {
  return s.trim().split(/\s+/).slice(0, 2).join(" ");
}

/** Maps a SQLite error to the SQL Server error a client would have seen for the same mistake. */
export function sqlServerErrorFromSqlite(message: string): SqlServerError {
  let m: RegExpExecArray | null;
  if ((m = /no such table: (\S+)/.exec(message)) || (m = /unknown database (\S+)/.exec(message))) {
    return new SqlServerError(208, `Invalid object name '${m[1]}'.`);
  }
  if ((m = /no such column: (\S+)/.exec(message))) return new SqlServerError(207, `Invalid column name '${m[1]!.replace(/^.*\./, "")}'.`);
  if ((m = /no such function: (\S+)/.exec(message)))
    return new SqlServerError(195, `'${m[1]}' is not a recognized built-in function name.`);
  if ((m = /near "([^"]*)": syntax error/.exec(message))) return new SqlServerError(102, `Incorrect syntax near '${m[1]}'.`, 1, 15);
  if (/incomplete input/.test(message)) return new SqlServerError(102, "Incorrect syntax near the end of the statement.", 1, 15);
  return notSupported(`This statement (the embedded engine said: ${message})`);
}
