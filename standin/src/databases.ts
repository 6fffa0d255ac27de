/**
 * The SQL Server databases the stand-in serves, and what a node's process gets when it opens the
 * connection string its config holds. The cluster's own database is served by one TDS listener; each
 * restore (the DBA's copy onto an HA instance) by a listener of its own on its own port, because a
 * restore onto an HA instance is another SQL Server (its own SERVERPROPERTY, its own AG), reached by a
 * connection string that differs in Server=, not only in Database=.
 *
 * Connection strings are secrets: describe() is the only form that goes into a stand-in log.
 */
import { randomInt, randomUUID } from "node:crypto";
import type { DatabaseHaConfiguration } from "./database-ha.js";
import type { ClusterState } from "./model.js";

export interface ServedDatabase {
  /** The stand-in's handle (the cluster's own is "Octopus"); Cluster keys its content by it. */
  name: string;
  /** The catalog name, Database= in the connection string. */
  catalog: string;
  host: string;
  /** The listener's port; 0 when the stand-in runs without SQL (nodes still reach it; nothing listens for clients). */
  port: number;
  user: string;
  password: string;
  connectionString: string;
  /** The master key the database's sensitive values are encrypted with (base64, as Octopus prints it). */
  masterKey: string;
  databaseHa: DatabaseHaConfiguration;
}

/** Each key octoha's parser knows, with the spellings SqlClient accepts for it. */
const KEY_SPELLINGS: Record<string, string[]> = {
  server: ["server", "data source", "address", "addr", "network address"],
  database: ["database", "initial catalog"],
  user: ["user id", "uid", "user"],
  password: ["password", "pwd"],
  integrated: ["integrated security", "trusted_connection"],
};
const SYNONYMS: Record<string, string> = Object.fromEntries(
  Object.entries(KEY_SPELLINGS).flatMap(([key, spellings]) => spellings.map((spelling) => [spelling, key])),
);

/** A key as SqlClient compares it: case and runs of spaces folded, then its synonym's canonical name. */
function canonicalKey(key: string): string {
  const folded = key.trim().toLowerCase().replace(/\s+/g, " ");
  return SYNONYMS[folded] ?? folded;
}

/** Parses key=value;… as SqlClient does for the keys above (values may be quoted with ' or "); undefined when malformed. */
export function parseConnectionString(value: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  let i = 0;
  while (i < value.length) {
    if (/[\s;]/.test(value[i]!)) {
      i++;
      continue;
    }
    const eq = value.indexOf("=", i);
    if (eq < 0) return undefined;
    const key = canonicalKey(value.slice(i, eq));
    i = eq + 1;
    while (value[i] === " ") i++;
    let v = "";
    const quote = value[i];
    if (quote === '"' || quote === "'") {
      for (i++; i < value.length; i++) {
        if (value[i] !== quote) v += value[i];
        else if (value[i + 1] === quote) v += value[i++];
        else break;
      }
      if (value[i] !== quote) return undefined;
      i++;
    } else {
      const end = value.indexOf(";", i);
      v = value.slice(i, end < 0 ? value.length : end).trim();
      i = end < 0 ? value.length : end;
    }
    if (Object.hasOwn(KEY_SPELLINGS, key)) out.set(key, v);
  }
  return out;
}

/** What a log shows in place of a password. */
export const REDACTED = "****";

/** key=value;… in the pairs' order (values unquoted: the stand-in's and its tests' strings hold no ';'). */
export function formatConnectionString(pairs: [key: string, value: string][]): string {
  return pairs.map(([key, value]) => `${key}=${value}`).join(";");
}

/** The same connection string with one key's value (any of its spellings) replaced, or appended when absent. */
export function withConnectionStringValue(value: string, key: string, next: string): string {
  const pairs = value
    .split(";")
    .filter((part) => part.includes("="))
    .map((part): [string, string] => [part.slice(0, part.indexOf("=")), part.slice(part.indexOf("=") + 1)]);
  const at = pairs.findIndex(([k]) => canonicalKey(k) === canonicalKey(key));
  if (at >= 0) pairs[at] = [pairs[at]![0], next];
  else pairs.push([key, next]);
  return formatConnectionString(pairs);
}

/** A connection string fit for a log: server, database and user; never the password. */
export function describeConnectionString(value: string): string {
  const parsed = parseConnectionString(value);
  if (!parsed) return "(an unparseable connection string)";
  const pairs: [string, string][] = [
    ["Server", parsed.get("server") ?? "?"],
    ["Database", parsed.get("database") ?? "?"],
  ];
  if (parsed.has("user")) pairs.push(["User Id", parsed.get("user")!]);
  if (parsed.has("password")) pairs.push(["Password", REDACTED]);
  return formatConnectionString(pairs);
}

/** What opening a connection string gives: the database, or the SqlClient error a node would log. */
export type OpenResult = { database: ServedDatabase } | { failure: string };

/**
 * Opens a connection string against the served databases as SqlClient would: the listener at
 * Server= (127.0.0.1 or localhost, port after the comma, 1433 without one), then its login, then
 * its catalog. Messages: SqlClient's and SQL Server's (18456, 4060) wording, VERIFIED for the
 * login errors (the TDS endpoint sends the same); the network error's wording is INFERRED.
 */
export function openConnectionString(served: ServedDatabase[], value: string): OpenResult {
  const parsed = parseConnectionString(value);
  if (!parsed) return { failure: "Format of the initialization string does not conform to specification starting at index 0." };
  const server = parsed.get("server");
  if (!server) return { failure: "The connection string names no server (Server= or Data Source=)." };
  const m = /^(?:tcp:)?\s*([^,\\]+?)\s*(?:\\[^,]*)?(?:,\s*(\d+))?\s*$/i.exec(server);
  const host = m?.[1]?.toLowerCase();
  const port = Number(m?.[2] ?? 1433);
  const atServer = served.filter((d) => d.port === port && (host === d.host || (host === "localhost" && d.host === "127.0.0.1")));
  if (atServer.length === 0)
    return {
      failure: `A network-related or instance-specific error occurred while establishing a connection to SQL Server. The server was not found or was not accessible. (${server})`,
    };
  const user = parsed.get("user");
  if (/^(true|yes|sspi)$/i.test(parsed.get("integrated") ?? "") && !user)
    return { failure: "Login failed for user 'NT AUTHORITY\\SYSTEM'. (the stand-in's SQL Server takes SQL logins only)" };
  const login = atServer[0]!;
  if (user !== login.user || parsed.get("password") !== login.password) return { failure: `Login failed for user '${user ?? ""}'.` };
  const catalog = parsed.get("database") ?? login.catalog;
  const database = atServer.find((d) => d.catalog.toLowerCase() === catalog.toLowerCase());
  if (!database) return { failure: `Cannot open database "${catalog}" requested by the login. The login failed.` };
  return { database };
}

const DAY_MS = 86_400_000;

/** How a restore differs from the database it was restored from. */
export const RESTORE_VARIANTS = ["faithful", "table-short", "older-schema", "other-installation"] as const;
export type RestoreVariant = (typeof RESTORE_VARIANTS)[number];

/**
 * The content of a restore of `source` taken now:
 * - faithful: the same rows;
 * - table-short: the newest ServerTask row missing (a backup taken before the last task was written);
 * - older-schema: the last SchemaVersions row missing (a backup from before the last upgrade);
 * - other-installation: another installation's database (its own InstallationId, install history from up to
 *   a year before the source's, and
 *   master key; the master key is the caller's, databases.ts keeps it with the served database).
 */
export function restoredContent(source: ClusterState, variant: RestoreVariant, now: string): ClusterState {
  const copy = structuredClone(source);
  switch (variant) {
    case "faithful":
      return copy;
    case "table-short": {
      if (copy.tasks.length === 0) throw new RangeError("table-short needs a ServerTask row to leave out: the database has none.");
      copy.tasks.pop();
      return copy;
    }
    case "older-schema": {
      const scripts = copy.schemaVersions ?? [];
      if (scripts.length < 2) throw new RangeError("older-schema needs two SchemaVersions rows or more to leave the last out.");
      copy.schemaVersions = scripts.slice(0, -1);
      return copy;
    }
    case "other-installation": {
      // Another installation was installed at another time, whatever the clock says now: its
      // OctopusServerInstallationHistory (what octoha compares) never equals this one's, even for a restore
      // made the instant the stand-in started (when `now` is the source's own install time).
      const sourceInstalled = Date.parse(copy.installation?.installedAt ?? copy.nodes[0]?.lastSeen ?? now);
      const installedAt = new Date(sourceInstalled - (1 + randomInt(365)) * DAY_MS - randomInt(DAY_MS)).toISOString();
      copy.installation = { installationId: randomUUID(), installedAt };
      copy.schemaVersions = copy.schemaVersions?.map((v) => ({ ...v, applied: installedAt }));
      return copy;
    }
  }
}
