/**
 * repath: points Octopus at the shared folders with `Octopus.Server.exe path` (stored in the
 * database: once per cluster). Records the folders first, writes only what changes; rollback
 * reads the folders again and writes back only the recorded ones that differ now (a `path` that
 * failed changed nothing, and must not be needed to undo nothing), and refuses once a node has
 * started on the new folders, because Octopus may have written new task logs there that the old
 * folders do not have.
 *
 * `path` cannot unset a key. A key nobody had set (ClusterShared is unset on most single nodes, and
 * then resolves to the Home folder) is recorded with the folder it resolved to, and rollback writes
 * that folder explicitly: the same folder as before, now set. When that folder cannot be known, repath
 * refuses before it changes anything, since it could not be undone.
 */
import { effectiveFolders } from "../octopus/types.js";
import type { NodeServices, ServerFolderPaths, ServerFolderReading, ServerFolders } from "../octopus/types.js";
import type { Plan } from "../plan/schema.js";
import { RollbackRefused, type Step, type StepContext } from "../runner/step.js";
import { type Change, type Finding } from "../model/preview.js";
import { OctohaError } from "../shared/errors.js";
import type { RunFacts } from "./facts.js";
import { samePath } from "./folders.js";
import { PATH_OPTION, pathCommandArgv, renderCommand } from "./server-command.js";

export interface RepathResult {
  /** The stored values before the run (a key nobody had set is absent). */
  before: ServerFolderPaths;
  /** Only the keys that changed, with their new values. */
  written: ServerFolderPaths;
  /** For each written key that was not set before: the folder it resolved to then (restored explicitly). */
  unsetBefore?: ServerFolderPaths;
}

export interface RepathDeps {
  plan: Plan;
  ports: { folders: ServerFolders; services: NodeServices };
  facts: RunFacts;
  /** The folders Octopus should end with (targetServerFolders). */
  target: ServerFolderPaths;
}

type Key = keyof ServerFolderPaths;
const keysOf = (paths: ServerFolderPaths) => Object.keys(paths) as Key[];

/** Keys about to be written that nobody set and whose folder cannot be told: their before-state would be lost. */
function unknowable(reading: ServerFolderReading, write: ServerFolderPaths): Key[] {
  return keysOf(write).filter((k) => reading.stored[k] === undefined && reading.defaults[k] === undefined);
}

/** "it"/"them" and friends, so one message reads right for one key or several. */
const grammar = (keys: readonly Key[]) =>
  keys.length === 1 ? { is: "is", was: "was", it: "it", they: "it" } : { is: "are", was: "were", it: "them", they: "they" };

function unknowableError(keys: Key[]): OctohaError {
  const g = grammar(keys);
  const summary = `Refusing to repath: ${keys.join(", ")} ${g.is} not set and octoha cannot tell which folder Octopus uses for ${g.it}`;
  return new OctohaError(summary, {
    code: "REPATH_BEFORE_UNKNOWN",
    step: "repath",
    hint: [
      "`path` cannot unset a folder, so a rollback would have to write the folder Octopus used before;",
      "show-configuration names no Octopus.Home to derive it from.",
      `Set ${g.it} explicitly to the folder Octopus uses now (\`Octopus.Server.exe path ${PATH_OPTION[keys[0]!]} …\`),`,
      `or leave ${g.it} out of the plan's shared folders; then run again. Nothing was changed.`,
    ].join(" "),
  });
}

/** Why a rollback cannot write back keys whose before-folder was not recorded (a run journaled before it was). */
function lostReason(lost: Key[]): string {
  const g = grammar(lost);
  return [
    `${lost.join(", ")} ${g.was} not set before the run and the folder ${g.they} resolved to was not recorded,`,
    `so ${g.it} cannot be written back (\`path\` cannot unset a key). Keep the shared folders, or write ${g.it} back by hand`,
    `with \`Octopus.Server.exe path ${PATH_OPTION[lost[0]!]} <the folder Octopus used before the run>\`.`,
  ].join(" ");
}

export function createRepathStep(deps: RepathDeps): Step<RepathResult, "repath"> {
  const { folders, services } = deps.ports;
  const diff = (current: ServerFolderPaths): ServerFolderPaths => {
    const out: ServerFolderPaths = {};
    for (const key of keysOf(deps.target)) {
      if (!samePath(current[key], deps.target[key], deps.plan.octopus.platform)) out[key] = deps.target[key];
    }
    return out;
  };
  const command = (paths: ServerFolderPaths) => renderCommand(deps.plan, pathCommandArgv(deps.plan, paths));
  /**
   * The keys this step wrote whose folder differs now from the recorded before-state: `restore` with
   * the folders to write back, `lost` those whose before-folder was not recorded (and that are set now).
   */
  const differingNow = async (r: RepathResult): Promise<Differing> => {
    const reading = await folders.read();
    const current = effectiveFolders(reading);
    const { restore: recorded, lost } = restoreOf(r);
    const restore: ServerFolderPaths = {};
    for (const key of keysOf(recorded)) {
      if (!samePath(current[key], recorded[key], deps.plan.octopus.platform)) restore[key] = recorded[key];
    }
    // Not set before and not set now: as it was, whatever folder it resolved to.
    return { restore, lost: lost.filter((key) => reading.stored[key] !== undefined) };
  };
  /** Past the point of no return once a node ran on the new folders: it may have written there. */
  const refusal = async (r: RepathResult, differing: Differing): Promise<string | undefined> => {
    // Nothing to write back, nothing to undo: the nodes run on the folders Octopus had before.
    if (keysOf(differing.restore).length === 0 && differing.lost.length === 0) return undefined;
    if (differing.lost.length > 0) return lostReason(differing.lost);
    const { restore } = restoreOf(r);
    const started = deps.facts.get("start-services");
    const running: string[] = [];
    for (const n of deps.plan.nodes) if ((await services.state(n.name)) !== "stopped") running.push(n.name);
    // No node runs, and start-services started none (every node was down before the run): none ran on them.
    if (running.length === 0 && (started?.acted.length ?? 0) === 0) return undefined;
    // A start-services that failed (a start refused, or nodes that never answered) may have started none.
    const unfinished = started?.answered === false;
    const what = !unfinished
      ? `node(s) ${(running.length ? running : (started?.acted ?? [])).join(", ")} started on the new folders`
      : running.length > 0
        ? `start-services did not finish, and node(s) ${running.join(", ")} are not stopped: they may be running on the new folders, or still starting`
        : `start-services tried to start node(s) ${started.acted.join(", ")} and did not finish: none of them runs now, but any of them may have run on the new folders for a while`;
    return `${what}, so Octopus may have written new task logs, artifacts or packages there that the old folders do not have. Keep the shared folders, or stop every node, copy the new files back, and run \`${command(restore)}\` yourself.`;
  };
  const describeBefore = (reading: ServerFolderReading, key: Key) =>
    reading.stored[key] ?? (reading.defaults[key] !== undefined ? `(not set: uses ${reading.defaults[key]})` : "(not set)");
  return {
    id: "repath",
    title: "Point Octopus at the shared folders",
    requiresApproval: true,
    async inspect() {
      const reading = await folders.read();
      const current = effectiveFolders(reading);
      const write = diff(current);
      const changes: Change[] = keysOf(deps.target).map((key) =>
        key in write
          ? {
              action: "update",
              target: `server folder ${key}`,
              before: describeBefore(reading, key),
              after: deps.target[key],
              summary: `${key}: ${describeBefore(reading, key)} → ${deps.target[key]}`,
            }
          : {
              action: "noop",
              target: `server folder ${key}`,
              before: current[key],
              after: current[key],
              summary: `${key} already ${current[key]}`,
            },
      );
      const lost = unknowable(reading, write);
      const refused = lost.length ? unknowableError(lost) : undefined;
      const findings: Finding[] = refused
        ? [{ severity: "error", code: refused.code, summary: refused.message, ...(refused.hint ? { fix: refused.hint } : {}) }]
        : [];
      const keys = keysOf(write);
      return {
        changes,
        findings,
        facts: { command: keys.length ? command(write) : undefined, argv: keys.length ? pathCommandArgv(deps.plan, write) : undefined },
      };
    },
    async apply(ctx, last) {
      let r = last;
      if (!r) {
        const reading = await folders.read();
        const written = diff(effectiveFolders(reading));
        const lost = unknowable(reading, written);
        if (lost.length > 0) throw unknowableError(lost);
        const unsetBefore: ServerFolderPaths = {};
        for (const key of keysOf(written)) if (reading.stored[key] === undefined) unsetBefore[key] = reading.defaults[key];
        r = { before: reading.stored, written, unsetBefore };
        await ctx.checkpoint(r);
      }
      // Re-read: a resumed run writes only what is still different.
      const pending = diff(effectiveFolders(await folders.read()));
      if (keysOf(pending).length > 0) await folders.write(pending);
      return r;
    },
    async verify(_ctx, _r) {
      const remaining = diff(effectiveFolders(await folders.read()));
      const keys = keysOf(remaining);
      return {
        ok: keys.length === 0,
        summary: keys.length === 0 ? "Octopus points at the shared folders" : "folders differ from the plan",
        problems: keys.map((k) => `${k} is not ${deps.target[k]}`),
      };
    },
    async rollbackRefusal(_ctx, r) {
      if (keysOf(r.written).length === 0) return undefined;
      return refusal(r, await differingNow(r));
    },
    async rollback(ctx, r) {
      if (keysOf(r.written).length === 0) return;
      const differing = await differingNow(r);
      const reason = await refusal(r, differing);
      if (reason !== undefined) throw new RollbackRefused("repath", reason);
      const keys = keysOf(differing.restore);
      if (keys.length === 0) {
        ctx.emit({
          level: "info",
          message: `Nothing to write back: Octopus still uses the folders it had before the run (${describe(restoreOf(r).restore)}), so \`path\` was not run.`,
        });
        return;
      }
      await folders.write(differing.restore);
      reportNowExplicit(ctx, r, keys);
    },
  };
}

const describe = (paths: ServerFolderPaths) =>
  keysOf(paths)
    .map((k) => `${k} = ${paths[k]}`)
    .join(", ");

interface Differing {
  restore: ServerFolderPaths;
  lost: Key[];
}

/**
 * The folders to write back for the keys this step changed: the recorded value, or, for a key that
 * was not set, the folder it resolved to. `lost`: keys with neither (a run journaled before this was recorded).
 */
function restoreOf(r: RepathResult): { restore: ServerFolderPaths; lost: Key[] } {
  const restore: ServerFolderPaths = {};
  const lost: Key[] = [];
  for (const key of keysOf(r.written)) {
    const value = r.before[key] ?? r.unsetBefore?.[key];
    if (value === undefined) lost.push(key);
    else restore[key] = value;
  }
  return { restore, lost };
}

/** Says which of the keys written back were unset and are now set explicitly, to the same folder they resolved to. */
function reportNowExplicit(ctx: StepContext, r: RepathResult, writtenBack: readonly Key[]): void {
  const keys = keysOf(r.unsetBefore ?? {}).filter((k) => writtenBack.includes(k) && r.before[k] === undefined);
  if (keys.length === 0) return;
  const list = keys.map((k) => `${k} = ${r.unsetBefore![k]}`).join(", ");
  ctx.emit({
    level: "warn",
    message: [
      "Not set before the run, now set explicitly to the folder Octopus used then",
      `(\`path\` cannot unset a key; the folders Octopus uses are as before): ${list}`,
    ].join(" "),
    data: { nowExplicit: Object.fromEntries(keys.map((k) => [k, r.unsetBefore![k]])) },
  });
}
