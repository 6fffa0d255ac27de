/**
 * What octoha accepts as a SQL connection string, checked before anything connects (and without
 * loading mssql, so `octoha check` can say it cheaply). The string is a secret: no message here
 * quotes it or any part of it but the server's name and port (which reports show anyway).
 */

/** The forms octoha takes, for every refusal's hint. */
export const ACCEPTED_CONNECTION_STRINGS =
  "Use the ADO.NET form Octopus itself stores (Octopus.Storage.ExternalDatabaseConnectionString): " +
  "Server=HOST[,PORT] or Server=HOST\\INSTANCE;Database=Octopus;User Id=LOGIN;Password=…;Encrypt=true " +
  "(Data Source, Initial Catalog, UID and PWD are accepted spellings).";

import { settingsOf } from "../../shared/connection-string-settings.js";

export interface ConnectionStringProblem {
  summary: string;
  hint: string;
}

function keysOf(connectionString: string): Map<string, string> {
  return new Map(settingsOf(connectionString));
}

const SERVER_KEYS = ["server", "data source", "address", "addr", "network address"];
/** Each server key as the ADO.NET documentation spells it, to name the setting in a message. */
const SERVER_KEY_NAMES: Record<string, string> = {
  server: "Server",
  "data source": "Data Source",
  address: "Address",
  addr: "Addr",
  "network address": "Network Address",
};
const USER_KEYS = ["user id", "uid", "user"];
const INTEGRATED_KEYS = ["integrated security", "trusted_connection"];

/**
 * Why octoha cannot use this connection string, or undefined. `where` names its source for the
 * message ("the connection string in OCTOHA_SQL").
 */
export function connectionStringProblem(connectionString: string, where: string): ConnectionStringProblem | undefined {
  const text = connectionString.trim();
  if (/^(jdbc:)?[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return { summary: `${where} is a URL (scheme://…), which octoha does not take`, hint: ACCEPTED_CONNECTION_STRINGS };
  }
  const keys = keysOf(text);
  if (!SERVER_KEYS.some((k) => keys.get(k))) {
    return { summary: `${where} names no server (no Server= or Data Source=)`, hint: ACCEPTED_CONNECTION_STRINGS };
  }
  const port = serverPortProblem(keys, where);
  if (port) return port;
  const integrated = INTEGRATED_KEYS.map((k) => keys.get(k)?.toLowerCase()).find((v) => v !== undefined);
  if (integrated !== undefined && ["true", "yes", "sspi"].includes(integrated) && !USER_KEYS.some((k) => keys.get(k))) {
    return {
      summary: `${where} asks for Integrated Security (the Windows login running octoha), which octoha's SQL driver cannot use`,
      hint: `Give a SQL login with read access to the Octopus database instead. ${ACCEPTED_CONNECTION_STRINGS}`,
    };
  }
  return undefined;
}

/**
 * `Server=HOST,PORT`: mssql reads a port that is not a number as none and connects to 1433, so
 * a typo became "a network drop, failover or timeout" after a 15 s wait. The server's name is not
 * a secret (reports show it); the password is never looked at.
 */
function serverPortProblem(keys: Map<string, string>, where: string): ConnectionStringProblem | undefined {
  const key = SERVER_KEYS.find((k) => keys.get(k));
  const server = key === undefined ? "" : keys.get(key)!;
  const comma = server.indexOf(",");
  // HOST:PORT (one colon after a protocol prefix; an IPv6 address has several): mssql took it for
  // a host name and the lookup failed as "a network drop … retrying usually works".
  const host = server.replace(/^(tcp|np|lpc|admin):/i, "");
  if (key !== undefined && comma < 0 && /^[^:[\]]+:\d*$/.test(host)) {
    const setting = SERVER_KEY_NAMES[key] ?? key;
    return {
      summary: `${where} has ${setting}=${server}: a port goes after a comma (${setting}=${host.replace(":", ",")}), not a colon`,
      hint: `Write the port after a comma, as SQL Server's own clients do. ${ACCEPTED_CONNECTION_STRINGS}`,
    };
  }
  if (key === undefined || comma < 0) return undefined;
  const port = server.slice(comma + 1).trim();
  if (/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535) return undefined;
  const setting = SERVER_KEY_NAMES[key] ?? key;
  return {
    summary: `${where} has ${setting}=${server}: the port after the comma must be a number from 1 to 65535, not ${port ? `"${port}"` : "nothing"}`,
    hint: `Give the port SQL Server listens on (1433 by default; a named instance's is in SQL Server Configuration Manager), or drop ",PORT" to use 1433 or a named instance's own. ${ACCEPTED_CONNECTION_STRINGS}`,
  };
}

/** The server and database a connection string names (no login, no password), lower-cased for comparison and safe to show. */
export function connectionTarget(connectionString: string): { server: string; database: string } {
  const keys = keysOf(connectionString.trim());
  const server = SERVER_KEYS.map((k) => keys.get(k)).find((v) => v) ?? "";
  const database = ["database", "initial catalog"].map((k) => keys.get(k)).find((v) => v) ?? "";
  return { server: server.replace(/^tcp:/i, ""), database };
}

/** Whether two connection strings name the same database on the same server (compared case-insensitively, as SQL Server names are). */
export function sameDatabase(a: string, b: string): boolean {
  const x = connectionTarget(a);
  const y = connectionTarget(b);
  return x.server.toLowerCase() === y.server.toLowerCase() && x.database.toLowerCase() === y.database.toLowerCase();
}
