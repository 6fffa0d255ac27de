/**
 * Secrets and the plan: a plan holds only `{ "env": "NAME" }` references. inlineSecrets() finds
 * secrets someone wrote into the plan anyway (so validation can refuse them without echoing
 * them); resolveSecrets() reads the references from the environment for `check` and the runner.
 *
 * Decisions (README, "Plan files"):
 * - apiKey: the variable the plan names; when that one is unset, OCTOPUS_API_KEY (the Octopus
 *   CLI's variable) is used instead.
 * - serverUrl: the plan's value always wins. A plan names one cluster, and an OCTOPUS_URL left
 *   over in a shell must not silently aim a run at another one; when OCTOPUS_URL is set and
 *   differs, `check` warns.
 */
import { connectionStringProblem, connectionTarget, sameDatabase } from "../octopus/sql/connection-string.js";
import { connectionStringPasswords } from "../shared/connection-string-settings.js";
import { InputError } from "../shared/errors.js";
import { Redactor, redactor as globalRedactor } from "../shared/redact.js";
import { formatPath, type PlanIssue } from "./issues.js";
import type { Plan } from "./schema.js";

const SECRET_SHAPES: { what: string; pattern: RegExp }[] = [
  // Octopus keys are API- and 16+ upper-case letters/digits; lower-case would hit folder names like "API-Backups2025".
  { what: "an Octopus API key", pattern: /\bAPI-[A-Z0-9]{16,}\b/ },
  { what: "a password in a connection string", pattern: /\b(?:password|pwd)\s*=\s*(?!;)\S/i },
  { what: "a password in a URL", pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^@/\s]+@/i },
];

/** True when the text contains anything shaped like a secret. */
export function looksSecret(text: string): boolean {
  return SECRET_SHAPES.some((s) => s.pattern.test(text));
}

export interface InlineSecret {
  /** JSON path of the string holding it. */
  path: string;
  what: string;
  /** The whole string value (to be hidden from every message; never printed). */
  value: string;
}

/** Every string in the raw plan that looks like a secret. */
export function inlineSecrets(raw: unknown): InlineSecret[] {
  const found: InlineSecret[] = [];
  const walk = (v: unknown, at: PropertyKey[]): void => {
    if (typeof v === "string") {
      const shape = SECRET_SHAPES.find((s) => s.pattern.test(v));
      if (shape) found.push({ path: formatPath(at), what: shape.what, value: v });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
  };
  walk(raw, []);
  return found;
}

export function inlineSecretIssues(secrets: InlineSecret[]): PlanIssue[] {
  return secrets.map((s) => ({
    path: s.path,
    message: `looks like ${s.what} written into the plan (value not shown)`,
    fix: 'Plans hold only references: put the secret in an environment variable and write { "env": "VARIABLE_NAME" } here (apiKey defaults to OCTOPUS_API_KEY). Then rotate the secret: it has been saved in a file.',
  }));
}

/** Paths whose value is a secret slot: whatever is there, it is never echoed. */
const SECRET_SLOT = /(^|\.)(apiKey|connectionString|moveTo|current)$/;

/** Hides inline secrets and secret-slot values from validation issues before anyone prints them. */
export function redactIssues(issues: PlanIssue[], secrets: InlineSecret[]): PlanIssue[] {
  const local = new Redactor();
  for (const s of secrets) local.add(s.value);
  const hide = (text: string): string => globalRedactor.redact(local.redact(text));
  return issues.map((i) => ({
    ...i,
    message: hide(i.message),
    value:
      SECRET_SLOT.test(i.path) || secrets.some((s) => s.path === i.path)
        ? undefined
        : i.value === undefined
          ? undefined
          : local.redactValue(globalRedactor.redactValue(i.value)),
    fix: i.fix === undefined ? undefined : hide(i.fix),
  }));
}

export interface ResolvedSecrets {
  apiKey: string | undefined;
  sqlConnectionString: string | undefined;
  /** database.moveTo and the string the nodes use now (database.current, else the SQL one); only with a `database` section. */
  database?: { moveTo: string | undefined; current: string | undefined };
  serverUrl: string;
  /** Which variable each value came from (names only, never values). */
  sources: { apiKey?: string; sqlConnectionString?: string; moveTo?: string; current?: string };
  /** One per unset variable; empty when every secret was found. */
  missing: MissingSecret[];
  /** Non-blocking remarks, e.g. an OCTOPUS_URL that differs from the plan. */
  notes: string[];
}

export interface MissingSecret {
  /** Plan path of the reference, e.g. "octopus.sql.connectionString". */
  path: string;
  /** The variable(s) looked at, in order. */
  variables: string[];
}

type Env = Readonly<Record<string, string | undefined>>;

function firstSet(env: Env, names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value.trim() !== "") return { name, value };
  }
  return undefined;
}

/** Reads every env reference at once, registers the values with the redactor, and lists every unset variable. */
export function resolveSecrets(plan: Plan, env: Env, redactor: Redactor = globalRedactor): ResolvedSecrets {
  const apiKeyVars = [...new Set([plan.octopus.apiKey.env, "OCTOPUS_API_KEY"])];
  const sqlVars = [plan.octopus.sql.connectionString.env];
  const apiKey = firstSet(env, apiKeyVars);
  const sql = firstSet(env, sqlVars);
  const move = plan.database;
  const moveVars = move ? [move.moveTo.env] : [];
  const currentVars = move ? [(move.current ?? plan.octopus.sql.connectionString).env] : [];
  const moveTo = firstSet(env, moveVars);
  const current = firstSet(env, currentVars);
  // Every candidate is a secret, also the one the fallback order did not pick.
  for (const name of [...apiKeyVars, ...sqlVars, ...moveVars, ...currentVars]) redactor.add(env[name]);
  // And each connection string's password on its own: the patterns no longer guess at a lone password setting.
  for (const name of [...sqlVars, ...moveVars, ...currentVars]) for (const p of connectionStringPasswords(env[name] ?? "")) redactor.add(p);
  const missing: MissingSecret[] = [];
  if (!apiKey) missing.push({ path: "octopus.apiKey", variables: apiKeyVars });
  if (!sql) missing.push({ path: "octopus.sql.connectionString", variables: sqlVars });
  if (move && !moveTo) missing.push({ path: "database.moveTo", variables: moveVars });
  if (move?.current && !current) missing.push({ path: "database.current", variables: currentVars });
  const notes: string[] = [];
  const envUrl = env.OCTOPUS_URL?.trim();
  if (envUrl && envUrl.replace(/\/+$/, "").toLowerCase() !== plan.octopus.serverUrl.replace(/\/+$/, "").toLowerCase())
    notes.push(
      `OCTOPUS_URL is set to ${redactor.redact(envUrl)} but the plan's octopus.serverUrl is ${plan.octopus.serverUrl}; octoha uses the plan's.`,
    );
  return {
    apiKey: apiKey?.value,
    sqlConnectionString: sql?.value,
    ...(move ? { database: { moveTo: moveTo?.value, current: current?.value } } : {}),
    serverUrl: plan.octopus.serverUrl,
    sources: { apiKey: apiKey?.name, sqlConnectionString: sql?.name, moveTo: moveTo?.name, current: current?.name },
    missing,
    notes,
  };
}

export interface SecretProblem {
  path: string;
  summary: string;
  fix: string;
}

/**
 * What is wrong with database.moveTo's values (never quoting them): not a connection string octoha
 * takes, or the database the nodes already use, which would make the move a no-op that looks like one.
 */
export function databaseMoveProblems(secrets: ResolvedSecrets): SecretProblem[] {
  const { database, sources } = secrets;
  if (!database?.moveTo) return [];
  const problems: SecretProblem[] = [];
  const bad = connectionStringProblem(database.moveTo, `The connection string in ${sources.moveTo} (database.moveTo)`);
  if (bad) problems.push({ path: "database.moveTo", summary: bad.summary, fix: bad.hint });
  // Without Database= SQL Server opens the login's default database: not a named target, and not one octoha can hold the move to.
  for (const [path, value, what] of [
    ["database.moveTo", database.moveTo, `${sources.moveTo} (database.moveTo)`],
    ["database.current", database.current, `${sources.current} (database.current: what a rollback writes back to every node)`],
  ] as const) {
    if (value === undefined || (path === "database.moveTo" && bad) || connectionTarget(value).database) continue;
    problems.push({
      path,
      summary: `The connection string in ${what} names no database (no Database= or Initial Catalog=): SQL Server would open the login's default database, whichever that is`,
      fix: "Add Database=<name> (the database's name on that server) to the connection string; each node's config names its database the same way.",
    });
  }
  if (database.current && !bad && sameDatabase(database.moveTo, database.current)) {
    const t = connectionTarget(database.moveTo);
    problems.push({
      path: "database.moveTo",
      summary: `database.moveTo (${sources.moveTo}) names the database the nodes use now (${sources.current}): server ${t.server}, database ${t.database}`,
      fix: "Set it to the connection string of the restored database (another server, or another database name), or remove the database section to keep the nodes where they are.",
    });
  }
  return problems;
}

/** "octopus.apiKey: environment variable X (or OCTOPUS_API_KEY) is not set": names only, never a value. */
export function describeMissing(m: MissingSecret): string {
  return `${m.path}: environment variable ${m.variables.join(" (or ")}${m.variables.length > 1 ? ")" : ""} is not set`;
}

export function missingFix(m: MissingSecret): string {
  const name = m.variables[0] ?? "";
  return `Set ${name} in this shell before running octoha (PowerShell: $env:${name} = "…"; sh: export ${name}=…).`;
}

/**
 * The secrets a verb that reaches Octopus needs, or exit 2 naming every unset variable: bad input,
 * found before anything is written (no state directory, journal or lock) or reached.
 */
export function requireSecrets(
  plan: Plan,
  env: Env,
  redactor: Redactor = globalRedactor,
): ResolvedSecrets & { apiKey: string; sqlConnectionString: string } {
  const secrets = resolveSecrets(plan, env, redactor);
  const moveProblems = databaseMoveProblems(secrets);
  if (moveProblems.length > 0)
    throw new InputError(`${moveProblems.map((p) => `${p.path}: ${p.summary}`).join("\n")}\nNothing was changed.`, {
      code: "DATABASE_MOVE_INVALID",
      issues: moveProblems.map((p) => `${p.path}: ${p.summary}`),
      hint: moveProblems.map((p) => p.fix).join("\n"),
    });
  if (secrets.missing.length === 0 && secrets.apiKey !== undefined && secrets.sqlConnectionString !== undefined)
    return { ...secrets, apiKey: secrets.apiKey, sqlConnectionString: secrets.sqlConnectionString };
  const n = secrets.missing.length;
  throw new InputError(
    `${n} environment variable${n === 1 ? "" : "s"} the plan names for its secrets ${n === 1 ? "is" : "are"} not set; nothing was changed:\n${secrets.missing.map((m) => `  ${describeMissing(m)}`).join("\n")}`,
    {
      code: "ENV_UNSET",
      issues: secrets.missing.map(describeMissing),
      hint: `${secrets.missing.map(missingFix).join("\n")}\nSecrets are read only from the environment, never from the plan or the command line.`,
    },
  );
}
