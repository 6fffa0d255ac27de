/**
 * `octoha check`: a validated plan goes through a list of checks, each returning Findings. The
 * plan-only checks live here; preflight checks that reach Octopus, SQL or the folders plug in by
 * adding a PlanCheck to the list (they read `ctx.secrets`, already resolved and redacted).
 * A check writes nothing; one that throws becomes an error finding, so one run reports everything.
 */
import type { Finding } from "../model/preview.js";
import { connectionStringProblem } from "../octopus/sql/connection-string.js";
import { OctohaError } from "../shared/errors.js";
import { redactor } from "../shared/redact.js";
import type { LoadedPlan } from "./load.js";
import { planWarnings } from "./warnings.js";
import { databaseMoveProblems, describeMissing, missingFix, resolveSecrets, type ResolvedSecrets } from "./secrets.js";

export interface CheckContext {
  readonly loaded: LoadedPlan;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Env references resolved once for every check; values are registered with the redactor. */
  readonly secrets: ResolvedSecrets;
  readonly signal?: AbortSignal;
}

export interface PlanCheck {
  /** Stable id, e.g. "env-refs", "sql-reachable". */
  readonly id: string;
  readonly title: string;
  run(ctx: CheckContext): Promise<Finding[]>;
}

export interface CheckResult {
  id: string;
  title: string;
  findings: Finding[];
}

export interface CheckReport {
  /** True when no finding is an error. */
  ok: boolean;
  plan: string;
  results: CheckResult[];
}

export interface RunChecksOptions {
  env: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
}

export async function runChecks(loaded: LoadedPlan, checks: readonly PlanCheck[], options: RunChecksOptions): Promise<CheckReport> {
  const ctx: CheckContext = { loaded, env: options.env, secrets: resolveSecrets(loaded.plan, options.env), signal: options.signal };
  const results: CheckResult[] = [];
  for (const check of checks) {
    let findings: Finding[];
    try {
      findings = await check.run(ctx);
    } catch (error) {
      findings = [crashFinding(check, error)];
    }
    results.push({ id: check.id, title: check.title, findings: redactor.redactValue(findings) });
  }
  return { ok: results.every((r) => r.findings.every((f) => f.severity !== "error")), plan: loaded.file, results };
}

function crashFinding(check: PlanCheck, error: unknown): Finding {
  if (error instanceof OctohaError)
    return {
      severity: "error",
      code: error.code,
      summary: `${check.title}: ${error.message}`,
      fix: error.hint,
      node: error.node,
      path: error.path,
    };
  return {
    severity: "error",
    code: "CHECK_FAILED",
    summary: `${check.title} could not run: ${error instanceof Error ? error.message : String(error)}`,
    fix: "This is probably a bug in octoha; please report it with the output of `octoha check --json`.",
  };
}

/** Every env reference is set (names the variables, never a value). */
export const envRefsCheck: PlanCheck = {
  id: "env-refs",
  title: "Secrets from environment variables",
  async run({ secrets }) {
    const findings: Finding[] = secrets.missing.map((m) => ({
      severity: "error",
      code: "ENV_UNSET",
      summary: describeMissing(m),
      detail: "The plan refers to it for a secret; octoha reads secrets only from the environment.",
      fix: missingFix(m),
      path: m.path,
    }));
    for (const note of secrets.notes)
      findings.push({
        severity: "warning",
        code: "OCTOPUS_URL_IGNORED",
        summary: note,
        fix: "Unset OCTOPUS_URL or change octopus.serverUrl so both name the same cluster.",
      });
    const cs = secrets.sqlConnectionString;
    const where = `The SQL connection string in ${secrets.sources.sqlConnectionString}`;
    const sql = cs === undefined ? undefined : connectionStringProblem(cs, where);
    if (sql) {
      const path = "octopus.sql.connectionString";
      findings.push({ severity: "error", code: "SQL_CONNECTION_STRING_INVALID", summary: sql.summary, fix: sql.hint, path });
    }
    for (const p of databaseMoveProblems(secrets))
      findings.push({ severity: "error", code: "DATABASE_MOVE_INVALID", summary: p.summary, fix: p.fix, path: p.path });
    if (secrets.apiKey !== undefined && !/^API-/i.test(secrets.apiKey))
      findings.push({
        severity: "warning",
        code: "API_KEY_SHAPE",
        summary: `the API key in ${secrets.sources.apiKey} does not start with "API-"`,
        fix: "Octopus API keys look like API-XXXX…; check the variable holds a key, not a user name or password.",
      });
    return findings;
  },
};

/** Valid but risky choices (mapped drives, nodes without folders, state dir), as warnings. */
export const planWarningsCheck: PlanCheck = {
  id: "plan-warnings",
  title: "Plan choices worth a second look",
  async run({ loaded }) {
    return planWarnings(loaded);
  },
};

/** The plan-only checks: no network. */
const planChecks: readonly PlanCheck[] = [envRefsCheck, planWarningsCheck];

/**
 * The plan-only checks followed by the given preflight checks (e.g. src/steps: Octopus, SQL, folder
 * reachability), each once. A value, not a registry: a run without preflight never inherits one
 * an earlier run in the same process asked for.
 */
export function checksWith(preflight: readonly PlanCheck[] = []): readonly PlanCheck[] {
  const checks = [...planChecks];
  for (const check of preflight) if (!checks.some((c) => c.id === check.id)) checks.push(check);
  return checks;
}
