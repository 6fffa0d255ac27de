/**
 * `check` and dry-run: each node's service read two ways, read-only (issue 12): its control recipe's
 * status and its ping. Either a node is "reachable, running", or the finding says exactly why not.
 */
import type { Finding } from "../model/preview.js";
import type { OctohaError } from "../shared/errors.js";
import { answeredByOtherNode, type NodeServiceCheck, type NodeServices } from "../octopus/types.js";

export async function serviceFindings(services: NodeServices, nodeNames: string[]): Promise<Finding[]> {
  if (!services.check) return [];
  const out: Finding[] = [];
  for (const node of nodeNames) {
    let check: NodeServiceCheck;
    try {
      check = await services.check(node);
    } catch (error) {
      if (!answeredByOtherNode(error)) throw error;
      out.push(otherNodeFinding(node, error));
      continue;
    }
    out.push(findingFor(node, check));
  }
  return out;
}

/** A node's URL answered by another node (OTHER_NODE_ANSWERED): an error, whatever asked. */
export function otherNodeFinding(node: string, error: unknown): Finding {
  return {
    severity: "error",
    code: "NODE_URL_OTHER_NODE",
    node,
    summary: (error as OctohaError).message,
    ...((error as OctohaError).hint ? { fix: (error as OctohaError).hint } : {}),
  };
}

const PING_WORDS = {
  running: "answers its ping",
  stopped: "nothing listens on its URL",
  unknown: "its ping does not answer 200/418",
} as const;

export function findingFor(node: string, c: NodeServiceCheck): Finding {
  const base = { node, detail: `through ${c.recipe}` };
  if (c.error)
    return {
      ...base,
      severity: "error",
      code: c.error.code,
      summary: `${c.error.message}: its service cannot be read, so it could not be stopped or started either`,
      ...(c.error.hint ? { fix: c.error.hint } : {}),
    };
  const ping = PING_WORDS[c.ping];
  if (!c.status) {
    const summary = `Node ${node}: no status command for its recipe; ${ping}`;
    return { ...base, severity: c.ping === "running" ? "info" : "warning", code: "NODE_SERVICE_PING_ONLY", summary };
  }
  const raw = c.status.raw;
  if (c.status.state === "stopped" && c.ping === "running")
    return {
      ...base,
      severity: "error",
      code: "NODE_STOPPED_BUT_ANSWERS",
      summary: `Node ${node}: its service manager says stopped (${raw}) but the node still answers its ping`,
      fix: "The recipe reaches another machine or service than the one serving this node's URL: check nodes[].control (host, service/instance) and nodes[].url.",
    };
  if (c.state === "running")
    return { ...base, severity: "info", code: "NODE_SERVICE_RUNNING", summary: `Node ${node}: reachable, running (${raw}; ${ping})` };
  if (c.status.state === "stopped")
    return { ...base, severity: "warning", code: "NODE_SERVICE_STOPPED", summary: `Node ${node}: reachable, stopped (${raw}; ${ping})` };
  if (c.status.state === "running")
    return {
      ...base,
      severity: "warning",
      code: "NODE_SERVICE_NOT_ANSWERING",
      summary: `Node ${node}: its service runs (${raw}) but ${ping}`,
      fix: "It may still be starting; otherwise check nodes[].url reaches this node (firewall, binding, certificate).",
    };
  return { ...base, severity: "warning", code: "NODE_SERVICE_PENDING", summary: `Node ${node}: reachable, service ${raw}; ${ping}` };
}
