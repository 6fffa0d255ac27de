/**
 * Each node's control recipe as the plan means it: `control`, else the deprecated `service` commands
 * read as an argv recipe, else `local` (today's default, valid for the one node octoha runs on).
 */
import type { ControlRecipe, ControlTools } from "../octopus/control/index.js";
import { DEFAULT_TOOLS } from "../octopus/control/index.js";
import type { Plan, PlanNode } from "./schema.js";

export function nodeRecipe(plan: Plan, node: PlanNode): ControlRecipe {
  if (node.control) return node.control;
  if (node.service) {
    const local = (action: "stop" | "start") => [plan.octopus.serverExe, "service", `--${action}`, `--instance=${plan.octopus.instance}`];
    return { kind: "argv", stop: node.service.stop ?? local("stop"), start: node.service.start ?? local("start") };
  }
  return { kind: "local" };
}

/** Whether the node has nothing but the local default (no control, no service commands). */
export function usesLocalDefault(node: PlanNode): boolean {
  return !node.control && !node.service;
}

export function nodeRecipes(plan: Plan): Record<string, ControlRecipe> {
  return Object.fromEntries(plan.nodes.map((n) => [n.name, nodeRecipe(plan, n)]));
}

export function controlTools(plan: Plan): ControlTools {
  return { ...DEFAULT_TOOLS, ...plan.options.tools };
}

/** The recipes as an operator writes them, for messages. */
export const RECIPE_EXAMPLES = [
  '{ "kind": "sc", "host": "OCTO2" }  (Windows service manager; admin rights on the node)',
  '{ "kind": "winrm", "host": "OCTO2" }  (PowerShell remoting)',
  '{ "kind": "ssh", "host": "octo2.corp", "unit": "octopusdeploy", "sudo": true }  (Linux, systemd)',
  '{ "kind": "argv", "stop": [...], "start": [...], "status": [...] }  (your own commands)',
  '{ "kind": "local" }  (only for the one node octoha runs on)',
];
