/**
 * `octoha join`'s hints show the plan file the operator gave, quoted for the shell, never a literal PLAN:
 * a join without a node name, a node that is not in the plan, and --print's "after" lines.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { joinPrint } from "../../src/join/index.js";
import { loadPlan } from "../../src/plan/load.js";
import { joinFlagsOf, joiningNode } from "../../src/steps/join-workflow.js";
import { REPO } from "../helpers/cli.js";
import { tempDir } from "../runner/helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function spacedPlan(): string {
  const t = tempDir("octoha-join-hints-");
  cleanups.push(t.cleanup);
  const planFile = path.join(t.dir, "my plans", "prod plan.json");
  mkdirSync(path.dirname(planFile), { recursive: true });
  copyFileSync(path.join(REPO, "plans", "repair-two-nodes.json"), planFile);
  return planFile;
}

const hintOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return (error as { hint?: string }).hint ?? "";
  }
  throw new Error("expected a refusal");
};

describe("join hints name the plan file given", () => {
  it("a join workflow without a node name says how to start it, with the plan file quoted", () => {
    const planFile = spacedPlan();
    const hint = hintOf(() => joinFlagsOf({}, planFile));
    expect(hint).toBe(`Run, with the new node's name for NODE: octoha join NODE --plan ${JSON.stringify(planFile)}`);
    expect(hint).not.toContain("PLAN");
  });

  it("a node not in the plan: the --print command quotes the plan file", async () => {
    const planFile = spacedPlan();
    const { plan } = await loadPlan(planFile);
    const hint = hintOf(() => joiningNode(plan, "OCTO3", planFile));
    expect(hint).toContain(`print the commands to run there: octoha join OCTO3 --plan ${JSON.stringify(planFile)} --print`);
  });

  it("--print's after lines name the plan file for octoha lb and octoha tentacles, quoted", async () => {
    const planFile = spacedPlan();
    const printed = await joinPrint({ planFile, node: "OCTO3", url: "https://octo3.example.com", offline: true, env: {} });
    const quoted = JSON.stringify(planFile);
    const after = printed.after.join("\n");
    expect(after).toContain(`octoha lb ${quoted} --format … (load balancer) and octoha tentacles ${quoted} (polling Tentacles)`);
    expect(after).not.toContain("PLAN");
  });
});
