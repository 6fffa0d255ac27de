/**
 * The parts of a plan that decide where data is read and written: the shared folders, each node's
 * own folders (and which nodes there are), and a database move. A run records them when it starts;
 * a resume or a rollback of that run with a plan that says otherwise would copy into one share and
 * point Octopus at another, so it is refused (operations/apply.ts). Everything else in a plan (URLs,
 * timeouts, approvals, how nodes are reached) may be corrected between a failure and its resume.
 */
import type { Plan } from "./schema.js";
import { relate } from "./locations.js";
import { pathStyle } from "../shared/path-style.js";

/** Dotted path → value, for every leaf of those parts (a node's by its name, not its place in the list). */
export function whereDataGoes(plan: Plan): Record<string, string> {
  const out: Record<string, string> = {};
  const flatten = (prefix: string, value: unknown): void => {
    if (value === undefined) return;
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) flatten(`${prefix}.${key}`, inner);
    } else out[prefix] = JSON.stringify(value);
  };
  flatten("shared", plan.shared);
  out["nodes"] = JSON.stringify(plan.nodes.map((n) => n.name));
  for (const node of plan.nodes) flatten(`nodes.${node.name}.folders`, node.folders);
  flatten("database", plan.database);
  return out;
}

/** The recorded node list ("nodes" holds its JSON), or undefined if it is not one. */
function nodeNames(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  try {
    const names: unknown = JSON.parse(value);
    return Array.isArray(names) && names.every((n) => typeof n === "string") ? names : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Two recorded values that name the same place: equal, or the same path spelled otherwise: a
 * Windows path in another case or with other separators (as Octopus and the Windows file system see
 * it), a POSIX path with a trailing '/' or a '.' segment (still case-sensitive, as Linux is).
 */
function samePlace(was: string | undefined, is: string | undefined): boolean {
  if (was === is) return true;
  if (was === undefined || is === undefined) return false;
  try {
    const [a, b]: unknown[] = [JSON.parse(was), JSON.parse(is)];
    return typeof a === "string" && typeof b === "string" && pathStyle(a) !== "relative" && relate(a, b) === "same";
  } catch {
    return false;
  }
}

/** "nodes: was OCTO1, OCTO2, now octo1, OCTO2", saying why a rename that only changes case still counts. */
function nodeListChange(was: string[], is: string[]): string {
  const line = `nodes: was ${was.join(", ") || "(none)"}, now ${is.join(", ") || "(none)"}`;
  const recased = is.flatMap((n) => {
    const before = was.find((w) => w !== n && w.toLowerCase() === n.toLowerCase());
    return before !== undefined && !was.includes(n) ? [`${before} → ${n}`] : [];
  });
  if (recased.length === 0) return line;
  // Octopus sees one node either way, but the run's manifests, quarantine folders and journaled
  // results are named after the node as the plan spelled it: on a case-sensitive disk, another node.
  return `${line} (${recased.join(", ")} changes only the case: Octopus sees the same node, but this run recorded its copies and results under the old spelling)`;
}

/**
 * What differs between a run's recorded parts and a plan's: "shared.taskLogs.access: was "…", now "…"".
 * A changed node list comes first, as one line; the folders of a node only one side lists are in
 * it, not listed again as "(not set)".
 */
export function dataPlanChanges(recorded: Record<string, string>, now: Record<string, string>): string[] {
  const [wasNodes, isNodes] = [nodeNames(recorded["nodes"]), nodeNames(now["nodes"])];
  const nodesChanged = wasNodes !== undefined && isNodes !== undefined && JSON.stringify(wasNodes) !== JSON.stringify(isNodes);
  const onOneSide = nodesChanged
    ? [...wasNodes.filter((n) => !isNodes.includes(n)), ...isNodes.filter((n) => !wasNodes.includes(n))].map((n) => `nodes.${n}.folders.`)
    : [];
  const changes: string[] = [];
  for (const key of new Set([...Object.keys(recorded), ...Object.keys(now)])) {
    if (nodesChanged && (key === "nodes" || onOneSide.some((prefix) => key.startsWith(prefix)))) continue;
    const [was, is] = [recorded[key], now[key]];
    if (!samePlace(was, is)) changes.push(`${key}: was ${was ?? "(not set)"}, now ${is ?? "(not set)"}`);
  }
  changes.sort();
  return nodesChanged ? [nodeListChange(wasNodes, isNodes), ...changes] : changes;
}
