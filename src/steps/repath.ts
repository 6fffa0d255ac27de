/**
 * repath: points Octopus at the shared folders with `Octopus.Server.exe path` (stored in the
 * database: once per cluster). Records the folders first, writes only what changes; rollback
 * writes the recorded folders back, and refuses once a node has started on the new folders,
 * because Octopus may have written new task logs there that the old folders do not have.
 */
import type { NodeServices, ServerFolderPaths, ServerFolders } from "../octopus/types.js";
import type { Plan } from "../plan/schema.js";
import { RollbackRefused, type Change, type Step } from "../runner/step.js";
import type { RunFacts } from "./facts.js";
import { samePath } from "./folders.js";
import { pathCommandArgv, renderCommand } from "./server-command.js";

export interface RepathResult {
  before: ServerFolderPaths;
  /** Only the keys that changed, with their new values. */
  written: ServerFolderPaths;
}

export interface RepathDeps {
  plan: Plan;
  ports: { folders: ServerFolders; services: NodeServices };
  facts: RunFacts;
  /** The folders Octopus should end with (targetServerFolders). */
  target: ServerFolderPaths;
}

type Key = keyof ServerFolderPaths;

export function createRepathStep(deps: RepathDeps): Step<RepathResult, "repath"> {
  const { folders, services } = deps.ports;
  const diff = (current: ServerFolderPaths): ServerFolderPaths => {
    const out: ServerFolderPaths = {};
    for (const key of Object.keys(deps.target) as Key[]) {
      if (!samePath(current[key], deps.target[key], deps.plan.octopus.platform)) out[key] = deps.target[key];
    }
    return out;
  };
  /** Past the point of no return once a node ran on the new folders: it may have written there. */
  const refusal = async (r: RepathResult): Promise<string | undefined> => {
    const started = deps.facts.get("start-services");
    const running: string[] = [];
    for (const n of deps.plan.nodes) if ((await services.state(n.name)) !== "stopped") running.push(n.name);
    if (!started && running.length === 0) return undefined;
    return `node(s) ${(running.length ? running : (started?.acted ?? [])).join(", ")} started on the new folders, so Octopus may have written new task logs, artifacts or packages there that the old folders do not have. Keep the shared folders, or stop every node, copy the new files back, and run \`${renderCommand(deps.plan, pathCommandArgv(deps.plan, restoreOf(r)))}\` yourself.`;
  };
  return {
    id: "repath",
    title: "Point Octopus at the shared folders",
    requiresApproval: true,
    async inspect() {
      const current = await folders.read();
      const write = diff(current);
      const changes: Change[] = (Object.keys(deps.target) as Key[]).map((key) =>
        key in write
          ? { action: "update", target: `server folder ${key}`, before: current[key] ?? "(not set)", after: deps.target[key], summary: `${key}: ${current[key] ?? "(not set)"} → ${deps.target[key]}` }
          : { action: "noop", target: `server folder ${key}`, before: current[key], after: current[key], summary: `${key} already ${current[key]}` },
      );
      const keys = Object.keys(write);
      return { changes, findings: [], facts: { command: keys.length ? renderCommand(deps.plan, pathCommandArgv(deps.plan, write)) : undefined, argv: keys.length ? pathCommandArgv(deps.plan, write) : undefined } };
    },
    async apply(ctx, last) {
      const before = last?.before ?? (await folders.read());
      const written = last?.written ?? diff(before);
      if (!last) await ctx.checkpoint({ before, written });
      // Re-read: a resumed run writes only what is still different.
      const pending = diff(await folders.read());
      if (Object.keys(pending).length > 0) await folders.write(pending);
      return { before, written };
    },
    async verify(_ctx, _r) {
      const remaining = diff(await folders.read());
      const keys = Object.keys(remaining) as Key[];
      return { ok: keys.length === 0, summary: keys.length === 0 ? "Octopus points at the shared folders" : "folders differ from the plan", problems: keys.map((k) => `${k} is not ${deps.target[k]}`) };
    },
    async rollbackRefusal(_ctx, r) {
      return refusal(r);
    },
    async rollback(_ctx, r) {
      const reason = await refusal(r);
      if (reason !== undefined) throw new RollbackRefused("repath", reason);
      const restore = restoreOf(r);
      if (Object.keys(restore).length > 0) await folders.write(restore);
    },
  };
}

/** The recorded values of the keys this step changed (a key that was unset cannot be unset by `path`: left as is). */
function restoreOf(r: RepathResult): ServerFolderPaths {
  const out: ServerFolderPaths = {};
  for (const key of Object.keys(r.written) as Key[]) if (r.before[key] !== undefined) out[key] = r.before[key];
  return out;
}
