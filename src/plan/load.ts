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
import { pathStyle } from "./locations.js";
import { inlineSecretIssues, inlineSecrets, looksSecret, redactIssues } from "./secrets.js";
import { redactor } from "../shared/redact.js";

export interface LoadedPlan {
  plan: Plan;
  /** Absolute path of the plan file. */
  file: string;
  /** Absolute state directory: options.stateDir (relative to the plan) or .octoha next to the plan. */
  stateDir: string;
}

export interface PlanIssue {
  /** JSON path, e.g. "nodes[1].folders.taskLogs.octopus". */
  path: string;
  message: string;
  /** Value found (secrets redacted by the caller's redactor). */
  value?: unknown;
  fix?: string;
}

export function formatPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const s of segments) out += typeof s === "number" ? `[${s}]` : out ? `.${String(s)}` : String(s);
  return out || "(plan)";
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
  const issues = redactIssues([...inlineSecretIssues(secrets), ...schemaIssues(raw)], secrets);
  return issues.length > 0 ? { plan: undefined, issues } : { plan: Plan.parse(raw), issues: [] };
}

/** Schema problems, then (only once the shape is right) the cross-field rules. */
function schemaIssues(raw: unknown): PlanIssue[] {
  if (raw && typeof raw === "object" && "version" in raw && (raw as { version: unknown }).version !== PLAN_FORMAT_VERSION) {
    const found = (raw as { version: unknown }).version;
    return [{ path: "version", value: found, message: `unsupported plan format version: expected ${PLAN_FORMAT_VERSION}, found ${JSON.stringify(found)}`, fix: "Run `octoha init` to write a plan in the current format." }];
  }
  const result = Plan.safeParse(raw);
  if (result.success) return crossFieldIssues(result.data);
  const issues = result.error.issues.map((i): PlanIssue => {
    if (i.code !== "unrecognized_keys") {
      const value = valueAt(raw, i.path);
      if (value === undefined && (i.code === "invalid_type" || i.code === "invalid_value"))
        return { path: formatPath(i.path), message: "missing, and required", fix: "Add it; `octoha init` writes a complete example and `octoha schema` describes every field." };
      return { path: formatPath(i.path), value, message: i.message };
    }
    const keys = i.keys;
    const suggestions = keys.map((k) => closestKey(k, knownKeysAt(i.path))).filter((k): k is string => k !== undefined);
    return {
      path: formatPath(i.path),
      value: keys,
      message: `unknown key${keys.length > 1 ? "s" : ""} ${keys.map((k) => JSON.stringify(k)).join(", ")} (a typo?)`,
      fix: suggestions.length > 0 ? `Did you mean ${suggestions.map((k) => JSON.stringify(k)).join(", ")}? \`octoha schema\` prints every accepted key.` : "Remove it or correct its spelling; `octoha schema` prints every accepted key.",
    };
  });
  // Typos alone still let the rest be checked, so one run lists every problem.
  if (result.error.issues.every((i) => i.code === "unrecognized_keys")) {
    const stripped = Plan.safeParse(withoutKeys(raw, result.error.issues.map((i) => ({ at: i.path, keys: (i as { keys: string[] }).keys }))));
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
  const distance = (a: string, b: string): number => {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const cur = [i];
      for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
    return prev[b.length]!;
  };
  const scored = known.map((k) => ({ k, d: distance(typo.toLowerCase(), k.toLowerCase()) })).filter((x) => x.d <= 2).sort((x, y) => x.d - y.d);
  return scored[0]?.k;
}

export function describeIssues(file: string, issues: PlanIssue[]): string {
  return issues
    .map((i) => `  ${i.path}: ${i.message}${i.value !== undefined ? ` (found ${JSON.stringify(i.value)})` : ""}${i.fix ? `\n    fix: ${i.fix}` : ""}`)
    .join("\n");
}

/** The plan broke rules: `details` has every issue with its path, value found and fix (secrets already hidden). */
export class PlanInvalidError extends InputError {
  constructor(summary: string, file: string, readonly details: PlanIssue[]) {
    super(summary, { code: "PLAN_INVALID", path: file, issues: details.map((i) => `${i.path}: ${i.message}`) });
  }
}

export async function loadPlan(file: string): Promise<LoadedPlan> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, "utf8");
  } catch (error) {
    throw new InputError(`Cannot read plan file ${abs}`, { code: "PLAN_UNREADABLE", path: abs, cause: error, hint: "Check the path; `octoha init plan.json` writes a template." });
  }
  let raw: unknown;
  try {
    // Notepad and PowerShell 5 save UTF-8 with a byte-order mark, which JSON.parse rejects.
    raw = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    // JSON.parse quotes the text around the error, which may be an inline secret.
    const why = looksSecret(text) ? "details hidden because the file holds what looks like a secret" : (error as Error).message;
    throw new InputError(`Plan file ${abs} is not valid JSON: ${redactor.redact(why)}`, { code: "PLAN_NOT_JSON", path: abs, hint: "Check commas, quotes and backslashes (a Windows path in JSON is written C:\\\\Octopus)." });
  }
  const parsed = parsePlan(raw);
  if (!parsed.plan) {
    const n = parsed.issues.length;
    throw new PlanInvalidError(`Plan ${abs} has ${n} problem${n === 1 ? "" : "s"}; nothing was changed:\n${describeIssues(abs, parsed.issues)}`, abs, parsed.issues);
  }
  return { plan: parsed.plan, file: abs, stateDir: resolveStateDir(abs, parsed.plan.options.stateDir) };
}

/** options.stateDir as this process reaches it: Windows spellings kept whole (even on a Linux host), relative ones next to the plan. */
export function resolveStateDir(planFile: string, stateDir: string | undefined): string {
  const dir = stateDir ?? ".octoha";
  const style = pathStyle(dir);
  if (style === "windows") return path.win32.normalize(dir);
  if (style === "posix") return path.posix.normalize(dir);
  return path.resolve(path.dirname(planFile), dir);
}
