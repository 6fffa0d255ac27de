/**
 * Reads and validates a plan file. Every problem is reported at once (JSON path, value found,
 * what is accepted) and nothing is written. Cross-field rules: validate.ts.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InputError } from "../shared/errors.js";
import { Plan, PLAN_FORMAT_VERSION } from "./schema.js";
import { crossFieldIssues } from "./validate.js";
import { planJsonSchema } from "./json-schema.js";
import { pathStyle } from "../shared/path-style.js";
import { inlineSecretIssues, inlineSecrets, looksSecret, redactIssues } from "./secrets.js";
import { redactor } from "../shared/redact.js";
import { checkPlanText, type TextProblem } from "./plan-text.js";
import { formatPath, type PlanIssue } from "./issues.js";

export interface LoadedPlan {
  plan: Plan;
  /** Absolute path of the plan file. */
  file: string;
  /** Absolute state directory: options.stateDir (relative to the plan) or .octoha next to the plan. */
  stateDir: string;
}

function valueAt(root: unknown, segments: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const s of segments) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[s];
  }
  return v;
}

/** Parses plan JSON text; returns the plan or every issue found (inline secrets never echoed). */
export function parsePlan(raw: unknown): { plan: Plan; issues: [] } | { plan: undefined; issues: PlanIssue[] } {
  const secrets = inlineSecrets(raw);
  const issues = redactIssues([...inlineSecretIssues(secrets), ...schemaIssues(raw)], secrets).map(boundIssue);
  return issues.length > 0 ? { plan: undefined, issues } : { plan: Plan.parse(raw), issues: [] };
}

/** Longest string echoed back from a plan; a 50 MB value is named, not printed. */
const MAX_ECHO_CHARS = 200;
const MAX_ECHO_ITEMS = 10;

/** The value as it is safe to print: long strings cut with their length, long lists and deep objects summarised. */
function boundForEcho(value: unknown, depth = 0): unknown {
  if (typeof value === "string")
    return value.length <= MAX_ECHO_CHARS ? value : `${value.slice(0, MAX_ECHO_CHARS / 2)}… (${value.length} characters)`;
  if (value === null || typeof value !== "object") return value;
  if (depth >= 3) return Array.isArray(value) ? `[… ${value.length} items]` : "{…}";
  if (Array.isArray(value)) {
    const shown = value.slice(0, MAX_ECHO_ITEMS).map((v) => boundForEcho(v, depth + 1));
    return value.length > MAX_ECHO_ITEMS ? [...shown, `… ${value.length - MAX_ECHO_ITEMS} more`] : shown;
  }
  const entries = Object.entries(value);
  const shown = entries.slice(0, MAX_ECHO_ITEMS).map(([k, v]) => [boundForEcho(k) as string, boundForEcho(v, depth + 1)]);
  if (entries.length > MAX_ECHO_ITEMS) shown.push(["…", `${entries.length - MAX_ECHO_ITEMS} more keys`]);
  return Object.fromEntries(shown);
}

function boundIssue(issue: PlanIssue): PlanIssue {
  const message =
    issue.message.length <= 2 * MAX_ECHO_CHARS
      ? issue.message
      : `${issue.message.slice(0, 2 * MAX_ECHO_CHARS)}… (message cut at ${2 * MAX_ECHO_CHARS} of ${issue.message.length} characters)`;
  return { ...issue, message, ...(issue.value === undefined ? {} : { value: boundForEcho(issue.value) }) };
}

/** Schema problems, then (only once the shape is right) the cross-field rules. */
function schemaIssues(raw: unknown): PlanIssue[] {
  if (raw && typeof raw === "object" && "version" in raw && (raw as { version: unknown }).version !== PLAN_FORMAT_VERSION) {
    const found = (raw as { version: unknown }).version;
    return [
      {
        path: "version",
        value: found,
        message: `unsupported plan format version: expected ${PLAN_FORMAT_VERSION}, found ${JSON.stringify(found)}`,
        fix: "Run `octoha init` to write a plan in the current format.",
      },
    ];
  }
  const result = Plan.safeParse(raw);
  if (result.success) return crossFieldIssues(result.data);
  const issues = result.error.issues.map((i): PlanIssue => {
    if (i.code !== "unrecognized_keys") {
      const value = valueAt(raw, i.path);
      if (value === undefined && (i.code === "invalid_type" || i.code === "invalid_value"))
        return {
          path: formatPath(i.path),
          message: "missing, and required",
          fix: "Add it; `octoha init` writes a complete example and `octoha schema` describes every field.",
        };
      return { path: formatPath(i.path), value, message: i.message };
    }
    const keys = i.keys;
    const suggestions = keys.map((k) => closestKey(k, knownKeysAt(i.path))).filter((k): k is string => k !== undefined);
    return {
      path: formatPath(i.path),
      value: keys,
      message: `unknown key${keys.length > 1 ? "s" : ""} ${keys.map((k) => JSON.stringify(k)).join(", ")} (a typo?)`,
      fix:
        suggestions.length > 0
          ? `Did you mean ${suggestions.map((k) => JSON.stringify(k)).join(", ")}? \`octoha schema\` prints every accepted key.`
          : "Remove it or correct its spelling; `octoha schema` prints every accepted key.",
    };
  });
  // Typos alone still let the rest be checked, so one run lists every problem.
  if (result.error.issues.every((i) => i.code === "unrecognized_keys")) {
    const stripped = Plan.safeParse(
      withoutKeys(
        raw,
        result.error.issues.map((i) => ({ at: i.path, keys: (i as { keys: string[] }).keys })),
      ),
    );
    if (stripped.success) issues.push(...crossFieldIssues(stripped.data));
  }
  return issues;
}

function withoutKeys(raw: unknown, removals: { at: readonly PropertyKey[]; keys: string[] }[]): unknown {
  const copy = structuredClone(raw);
  for (const { at, keys } of removals) {
    const holder = valueAt(copy, at);
    if (holder && typeof holder === "object") for (const k of keys) delete (holder as Record<string, unknown>)[k];
  }
  return copy;
}

type SchemaNode = { properties?: Record<string, SchemaNode>; items?: SchemaNode };

/** Keys the JSON Schema accepts at a JSON path. */
function knownKeysAt(at: readonly PropertyKey[]): string[] {
  let node: SchemaNode | undefined = planJsonSchema() as SchemaNode;
  for (const seg of at) node = typeof seg === "number" ? node?.items : node?.properties?.[String(seg)];
  return Object.keys(node?.properties ?? {});
}

/** The accepted key a typo most likely meant: same letters ignoring case, or at most two edits away. */
function closestKey(typo: string, known: string[]): string | undefined {
  if (typo.length > 100) return undefined;
  const distance = (a: string, b: string): number => {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const cur = [i];
      for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
    return prev[b.length]!;
  };
  const scored = known
    .map((k) => ({ k, d: distance(typo.toLowerCase(), k.toLowerCase()) }))
    .filter((x) => x.d <= 2)
    .sort((x, y) => x.d - y.d);
  return scored[0]?.k;
}

function describeIssues(file: string, issues: PlanIssue[]): string {
  return issues
    .map(
      (i) =>
        `  ${i.path}${i.at ? ` (line ${i.at.line}, column ${i.at.column})` : ""}: ${i.message}${i.value !== undefined ? ` (found ${JSON.stringify(i.value)})` : ""}${i.fix ? `\n    fix: ${i.fix}` : ""}`,
    )
    .join("\n");
}

/** The plan broke rules: `details` has every issue with its path, value found and fix (secrets already hidden). */
class PlanInvalidError extends InputError {
  constructor(
    summary: string,
    file: string,
    readonly details: PlanIssue[],
    code = "PLAN_INVALID",
  ) {
    super(summary, {
      code,
      path: file,
      issues: details.map((i) => `${i.path}${i.at ? ` (line ${i.at.line}, column ${i.at.column})` : ""}: ${i.message}`),
    });
  }
}

function textIssue(p: TextProblem): PlanIssue {
  return { path: p.path ?? "(plan)", at: { line: p.line, column: p.column }, message: p.message, ...(p.fix ? { fix: p.fix } : {}) };
}

/**
 * Encoding, NUL, duplicate keys, depth and syntax first (plan-text.ts), then the schema: every
 * problem at once, unless the text cannot be parsed at all.
 */
function readPlanText(abs: string, bytes: Uint8Array): unknown {
  const checked = checkPlanText(bytes);
  const textIssues = checked.problems.map(textIssue);
  const fail = (issues: PlanIssue[], code?: string): never => {
    const n = issues.length;
    const head = code === "PLAN_NOT_JSON" ? `Plan file ${abs} is not valid JSON` : `Plan ${abs} has ${n} problem${n === 1 ? "" : "s"}`;
    throw new PlanInvalidError(`${head}; nothing was changed:\n${describeIssues(abs, issues)}`, abs, issues, code);
  };
  if (!checked.parseable) fail(textIssues, checked.syntaxError ? "PLAN_NOT_JSON" : undefined);
  let raw: unknown;
  try {
    raw = JSON.parse(checked.text);
  } catch (error) {
    // The scanner accepted it, so this is unexpected; JSON.parse may quote the text, which may hold a secret.
    const why = looksSecret(checked.text) ? "details hidden because the file holds what looks like a secret" : (error as Error).message;
    fail([...textIssues, { path: "(plan)", message: redactor.redact(boundIssue({ path: "", message: why }).message) }], "PLAN_NOT_JSON");
  }
  const parsed = parsePlan(raw);
  const issues = [...textIssues, ...parsed.issues];
  if (issues.length > 0) fail(issues);
  return raw;
}

export async function loadPlan(file: string): Promise<LoadedPlan> {
  const abs = path.resolve(file);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(abs);
  } catch (error) {
    throw new InputError(`Cannot read plan file ${abs}`, {
      code: "PLAN_UNREADABLE",
      path: abs,
      cause: error,
      hint: "Check the path; `octoha init plan.json` writes a template.",
    });
  }
  // Notepad and PowerShell 5 save UTF-8 with a byte-order mark: accepted (plan-text.ts removes it).
  const plan = Plan.parse(readPlanText(abs, bytes));
  return { plan, file: abs, stateDir: resolveStateDir(abs, plan.options.stateDir) };
}

/** options.stateDir as this process reaches it: Windows spellings kept whole (even on a Linux host), relative ones next to the plan. */
export function resolveStateDir(planFile: string, stateDir: string | undefined): string {
  const dir = stateDir ?? ".octoha";
  const style = pathStyle(dir);
  if (style === "windows") return path.win32.normalize(dir);
  if (style === "posix") return path.posix.normalize(dir);
  return path.resolve(path.dirname(planFile), dir);
}
