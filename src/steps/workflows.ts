/**
 * The Octopus workflows: which steps, in which order, built from the plan (design.md "Steps";
 * reference/octopus.md §6.1 migration and §6.2 repair runbooks).
 *   migrate: preflight → provision-storage → preseed (live) → drain → maintenance on → stop →
 *            copy each kind (delta) → verify-copy → repath → start → verify-octopus → maintenance off → undrain
 *   preseed: preflight → provision-storage → preseed
 *   repair:  preflight → provision-storage → drain → maintenance on → stop → repath (if needed) →
 *            merge every node's folders → verify-copy → start → verify-octopus → maintenance off → undrain
 */
import { resolveSecrets } from "../plan/secrets.js";
import { rollbackConnectionStringSource, rollbackConnectionStringWarnings } from "../plan/warnings.js";
import type { NodeServices, OctopusPorts, ServiceState } from "../octopus/types.js";
import { featuresOf } from "../octopus/versions.js";
import type { Plan } from "../plan/schema.js";
import type { FailedRun, FailedRunNotes, RunMode } from "../model/run.js";
import type { Step, StepContext } from "../runner/step.js";
import { continueCommand } from "../runner/runs.js";
import type { Redactor } from "../shared/redact.js";
import { createCopyStep, createPreseedStep, type CopyJob, type CopyStepDeps } from "./copy.js";
import { afterMove } from "./database-move.js";
import { createAssessRepairStep, unlessNothingToRepair } from "./assess-repair.js";
import { realClock, stepFlags, type Clock, type CopyEngine, type StepFlags } from "./deps.js";
import { createDrainNodesStep } from "./drain-nodes.js";
import { createRunFacts, type PriorResultLookup, type RunFacts } from "./facts.js";
import { kindsToMove, nodeSources, sharedFolder, targetServerFolders } from "./folders.js";
import { createMaintenanceOffStep, createMaintenanceOnStep } from "./maintenance.js";
import { createOctopusPorts, createCopyEngine } from "./ports.js";
import { createPreflightStep } from "./preflight.js";
import type { PreflightResult } from "./results.js";
import { createProvisionStorageStep } from "./provision-storage.js";
import { createRepathStep } from "./repath.js";
import { createRepointDatabaseStep, refuseChangedTarget } from "./repoint-database.js";
import { renderCommand } from "./server-command.js";
import { createVerifyDatabaseStep } from "./verify-database.js";
import { createStartServicesStep, createStopServicesStep } from "./services.js";
import { buildTaskLogOwner, taskNumberOfId } from "./task-log-owner.js";
import { createUndrainStep } from "./undrain.js";
import { createVerifyCopyStep, taskLogNumbers } from "./verify-copy.js";
import { createVerifyOctopusStep } from "./verify-octopus.js";
import type { FullListSink } from "../model/copy-results.js";
import { COPY_STEP_IDS, type StepId, type WorkflowName } from "../model/step-ids.js";

/** What a workflow gets from the operation that runs it (src/operations), for a plan and a run. */
export interface WorkflowEnv {
  plan: Plan;
  planFile: string;
  stateDir: string;
  redactor: Redactor;
  /** Flags from the command line that steps honour (e.g. --cancel-tasks, --verify-all). */
  flags: Record<string, boolean | string | undefined>;
  /**
   * The last checkpoint an earlier step of this run saved (from the journal), so a later step can
   * read an earlier step's result after a resume (e.g. undrain reads drain-nodes' before-state).
   * Optional, additive: absent on a fresh run.
   */
  priorResult?: (stepId: string) => unknown;
  /** The run's abort signal (Ctrl-C): adapters abort requests in flight with it. */
  signal?: AbortSignal;
  /** Dry-run `--full-list`: steps hand it every collision and missing log their previews find. */
  fullList?: FullListSink;
  /** A resume or rollback: the steps the run's journal was started with (the workflow keeps them). */
  journaledStepIds?: readonly string[];
  /**
   * What the operation does with the workflow (new, resumed or rolled back: a workflow may refuse a
   * resume its plan no longer fits); absent for a preview (dry-run, check).
   */
  mode?: RunMode;
}

export interface Workflow {
  steps: Step[];
  /** Releases connections (SQL pool, HTTP agents). */
  close(): Promise<void>;
  /**
   * After a rollback: work on steps an earlier rollback of the run already undid (e.g. removing
   * the copies that rollback left, when asked with --remove-copies). Optional.
   */
  afterRollback?(a: AfterRollback): Promise<void>;
  /** After a failed run: what it left in place, and whether a rollback is a way out. Optional. */
  afterFailure?(f: FailedRun): Promise<FailedRunNotes>;
  /** After a run that is done: what the operator does next (a finished database move), from what the steps recorded. Optional. */
  afterDone?(recorded: (stepId: string) => unknown): string | undefined;
}

export interface AfterRollback {
  runId: string;
  /** Steps undone by an earlier rollback of this run, not by the one that just ran. */
  undoneEarlier: readonly string[];
  /** What such a step recorded last (its result, else its last checkpoint). */
  recorded(stepId: string): unknown;
  /** A context for running such a step's code; its events go to the run's view. */
  context(stepId: string): StepContext;
}

export type WorkflowFactory = (env: WorkflowEnv) => Promise<Workflow>;

export interface BuildStepsOptions {
  plan: Plan;
  /**
   * database.moveTo's string and the one the nodes use now (memory only); repoint-database runs only with both.
   * `currentVariable`: where the current one was read from (named, never shown, in a command to run by hand).
   */
  databaseMove?: { moveTo: string; current: string; currentVariable?: string };
  stateDir: string;
  ports: OctopusPorts;
  engine: CopyEngine;
  flags: StepFlags;
  /** Server version (probed once when the workflow is built: it decides which kinds exist). */
  version: string;
  facts?: RunFacts;
  clock?: Clock;
  env?: Record<string, string | undefined>;
  /** Drain poll interval (tests pass a small one). */
  pollIntervalMs?: number;
  /** The plan file, for commands printed to the operator. */
  planFile?: string;
  /** Dry-run: every collision and missing log a preview finds, beyond what the report lists. */
  fullList?: FullListSink;
  /** A resumed or rolled-back run: the steps its journal was started with (it keeps them). */
  journaledStepIds?: readonly string[];
}

export type AnyStep = Step<unknown, StepId>;

/** The runner treats checkpoints as opaque JSON; each step reads back only what it wrote. */
const erase = <C, Id extends StepId>(step: Step<C, Id>): AnyStep => step as unknown as AnyStep;

export function buildSteps(name: WorkflowName, o: BuildStepsOptions): AnyStep[] {
  const { plan, ports, engine } = o;
  const facts = o.facts ?? createRunFacts();
  const clock = o.clock ?? realClock;
  const features = featuresOf(o.version);
  const kinds = kindsToMove(plan, features);
  const nodeNames = plan.nodes.map((n) => n.name);
  const jobs: CopyJob[] = kinds.flatMap((kind) =>
    nodeSources(plan, kind).map((source) => ({ kind, source, target: sharedFolder(plan, kind)! })),
  );
  let owner: ReturnType<typeof buildTaskLogOwner> | undefined;
  const copyDeps: CopyStepDeps = {
    ...(o.fullList ? { fullList: o.fullList } : {}),
    engine,
    jobs,
    stateDir: o.stateDir,
    concurrency: o.flags.concurrency ?? plan.options.concurrency,
    verify: plan.options.verify,
    collisionPolicy: plan.options.collisionPolicy,
    removeCopies: o.flags.removeCopies,
    removeCopiesCommand: (runId) => {
      const rollback = continueCommand({
        verb: "rollback",
        runId,
        stateDir: o.stateDir,
        yes: true,
        ...(o.planFile ? { planFile: o.planFile } : {}),
      });
      return `${rollback} --remove-copies`;
    },
    // Read once per run and shared by the copy steps; forgotten on failure so a retry reads again.
    taskLogOwner: async () => {
      owner ??= buildTaskLogOwner(ports.inventory);
      try {
        return (await owner).owner;
      } catch (error) {
        owner = undefined;
        throw error;
      }
    },
  };
  const clusterShared = features.clusterShared ? sharedFolder(plan, "clusterShared") : undefined;
  const targets = [...(clusterShared ? [clusterShared.access] : []), ...kinds.map((k) => sharedFolder(plan, k)!.access)];
  const shared = (k: "taskLogs" | "packages") => sharedFolder(plan, k)!.access;

  // A preseed runs while Octopus serves and starts or reads through no node: a node down then is not its concern.
  const pingNodes = name !== "preseed";
  const preflight = createPreflightStep({
    plan,
    ports,
    engine,
    facts,
    env: o.env ?? process.env,
    pingNodes,
    ...(o.planFile ? { planFile: o.planFile } : {}),
  });
  const provision = createProvisionStorageStep({ targets });
  const drain = createDrainNodesStep({
    ports,
    facts,
    clock,
    drainTimeoutMinutes: plan.options.drainTimeoutMinutes,
    logHandleWaitSeconds: plan.options.logHandleWaitSeconds,
    cancelOnTimeout: plan.options.cancelTasksOnDrainTimeout || o.flags.cancelTasks,
    pollIntervalMs: o.pollIntervalMs,
  });
  const maintenanceOn = createMaintenanceOnStep({ ports, facts });
  const serviceDeps = {
    ports,
    facts,
    nodeNames,
    clock,
    startTimeoutMs: plan.options.serviceStartTimeoutMinutes * 60_000,
    ...(o.pollIntervalMs ? { pollIntervalMs: o.pollIntervalMs } : {}),
  };
  const stop = createStopServicesStep(serviceDeps);
  const copies = kinds.map((k) => createCopyStep(k, copyDeps));
  const verifyCopy = createVerifyCopyStep({
    ports,
    facts,
    sharedTaskLogs: shared("taskLogs"),
    sharedPackages: shared("packages"),
    nodeTaskLogs: nodeSources(plan, "taskLogs"),
    nodePackages: nodeSources(plan, "packages"),
    // A log lost before the run cannot be copied by any resume: failing would strand the window
    // with nodes stopped. Listed (and shown by the dry-run) instead; packages still block the start.
    logsMissingEverywhere: "list",
    ...(o.fullList ? { fullList: o.fullList } : {}),
  });
  const repath = createRepathStep({ plan, ports, facts, target: targetServerFolders(plan, features) });
  const start = createStartServicesStep(serviceDeps);
  const verifyOctopus = createVerifyOctopusStep({
    ports,
    clock,
    nodeNames,
    sampleSize: plan.options.verifySampleSize,
    verifyAll: o.flags.verifyAll,
    skip: async () => {
      // verify-copy journals only the first lost logs: the rest are found again (a compact set of numbers).
      const found = facts.get("verify-copy");
      if (!found || (found.logsNowhereTotal ?? found.logsNowhere.length) === 0) return () => false;
      const logs = await taskLogNumbers([shared("taskLogs"), ...nodeSources(plan, "taskLogs").map((n) => n.access)]);
      return (taskId) => {
        const n = taskNumberOfId(taskId);
        return n !== undefined && !logs.has(n);
      };
    },
  });
  const move = databaseMoveSteps(o, facts, clock, nodeNames);
  const maintenanceOff = createMaintenanceOffStep({ ports, facts });
  const undrain = createUndrainStep({ ports, facts });

  const steps: AnyStep[] =
    name === "preseed"
      ? [erase(preflight), erase(provision), erase(createPreseedStep(copyDeps))]
      : name === "migrate"
        ? [
            erase(preflight),
            erase(provision),
            erase(createPreseedStep(copyDeps)),
            erase(drain),
            erase(maintenanceOn),
            erase(stop),
            ...move.afterStop,
            ...copies.map(erase),
            erase(verifyCopy),
            erase(repath),
            erase(start),
            ...move.afterStart,
            erase(verifyOctopus),
            erase(maintenanceOff),
            erase(undrain),
          ]
        : repairSteps(o, {
            preflight,
            provision,
            drain,
            maintenanceOn,
            stop,
            move,
            repath,
            copies,
            verifyCopy,
            start,
            verifyOctopus,
            maintenanceOff,
            undrain,
            facts,
          });
  return steps;
}

interface RepairParts {
  preflight: ReturnType<typeof createPreflightStep>;
  provision: ReturnType<typeof createProvisionStorageStep>;
  drain: ReturnType<typeof createDrainNodesStep>;
  maintenanceOn: ReturnType<typeof createMaintenanceOnStep>;
  stop: ReturnType<typeof createStopServicesStep>;
  move: { afterStop: AnyStep[]; afterStart: AnyStep[] };
  repath: ReturnType<typeof createRepathStep>;
  copies: ReturnType<typeof createCopyStep>[];
  verifyCopy: ReturnType<typeof createVerifyCopyStep>;
  start: ReturnType<typeof createStartServicesStep>;
  verifyOctopus: ReturnType<typeof createVerifyOctopusStep>;
  maintenanceOff: ReturnType<typeof createMaintenanceOffStep>;
  undrain: ReturnType<typeof createUndrainStep>;
  facts: RunFacts;
}

/**
 * The repair: assess-repair (after provision-storage) decides whether it needs the outage at all; when
 * it finds nothing to repair, every step that drains, stops, re-points, copies, starts or restores
 * changes nothing, and the two verify steps prove the cluster (assess-repair.ts). A run journaled by an
 * octoha without that step resumes and rolls back with its own list.
 */
function repairSteps(o: BuildStepsOptions, p: RepairParts): AnyStep[] {
  const forced = o.flags.full ? "--full: the whole outage was asked for" : o.databaseMove ? "the plan moves the database" : undefined;
  const assessment = createAssessRepairStep({ facts: p.facts, repath: p.repath, copies: p.copies, forced });
  const assessed = () => assessment.assessed();
  const unless = <C, Id extends StepId>(step: Step<C, Id>): AnyStep => erase(unlessNothingToRepair(step, assessed));
  const withAssessment = o.journaledStepIds === undefined || o.journaledStepIds.includes("assess-repair");
  return [
    erase(p.preflight),
    erase(p.provision),
    ...(withAssessment ? [erase(assessment)] : []),
    unless(p.drain),
    unless(p.maintenanceOn),
    unless(p.stop),
    ...p.move.afterStop,
    unless(p.repath),
    ...p.copies.map(unless),
    erase(p.verifyCopy),
    unless(p.start),
    ...p.move.afterStart,
    erase(p.verifyOctopus),
    unless(p.maintenanceOff),
    unless(p.undrain),
  ];
}

/**
 * database.moveTo: repoint-database right after stop-services (compared with every node stopped, and before
 * repath, whose `path` then writes the folders into the database the nodes will use), verify-database right
 * after start-services. Nothing without a database section.
 */
function databaseMoveSteps(
  o: BuildStepsOptions,
  facts: RunFacts,
  clock: Clock,
  nodeNames: string[],
): { afterStop: AnyStep[]; afterStart: AnyStep[] } {
  const { plan, ports } = o;
  if (!plan.database || !o.databaseMove || !ports.targetDatabase) return { afterStop: [], afterStart: [] };
  const targetDatabase = ports.targetDatabase;
  const shown = renderCommand(plan, [plan.octopus.serverExe, "database", `--instance=${plan.octopus.instance}`, "--connectionString=***"]);
  const repoint = createRepointDatabaseStep({
    nodeNames,
    ports: { inventory: ports.inventory, targetDatabase, services: ports.services },
    connection: { moveTo: o.databaseMove.moveTo, current: o.databaseMove.current },
    facts,
    commandShown: shown,
    showConfigurationShown: renderCommand(plan, [
      plan.octopus.serverExe,
      "show-configuration",
      `--instance=${plan.octopus.instance}`,
      "--format=json",
    ]),
    ...(o.databaseMove.currentVariable ? { currentVariable: o.databaseMove.currentVariable } : {}),
    currentSource: rollbackConnectionStringSource(plan),
    planFindings: rollbackConnectionStringWarnings(plan),
  });
  const verify = createVerifyDatabaseStep({
    nodeNames,
    ports: { inventory: ports.inventory, targetDatabase },
    facts,
    clock,
    timeoutMs: plan.options.serviceStartTimeoutMinutes * 60_000,
    ...(o.pollIntervalMs ? { pollIntervalMs: o.pollIntervalMs } : {}),
  });
  return { afterStop: [erase(repoint)], afterStart: [erase(verify)] };
}

/** One Octopus workflow: its ports (REST, SQL, server command) and steps, built from the plan. */
export async function createWorkflow(name: WorkflowName, env: WorkflowEnv): Promise<Workflow> {
  // A resumed run is rebuilt with the version it journaled: the same steps, and no /api call that
  // would fail while the run has every node stopped.
  const facts = createRunFacts(env.priorResult);
  const journaled = (facts.get("preflight") as Partial<PreflightResult> | undefined)?.version;
  const secrets = resolveSecrets(env.plan, process.env, env.redactor);
  // Before anything is journaled: a resume whose moveTo now names another database than the one compared is bad input.
  if (env.mode === "resume" && secrets.database?.moveTo)
    refuseChangedTarget(facts.get("repoint-database"), secrets.database.moveTo, secrets.sources.moveTo);
  const ports = createOctopusPorts(
    env.plan,
    {
      apiKey: secrets.apiKey ?? "",
      sqlConnectionString: secrets.sqlConnectionString ?? "",
      ...(secrets.database?.moveTo ? { databaseMoveTo: secrets.database.moveTo } : {}),
    },
    {
      ...(typeof journaled === "string" ? { knownVersion: journaled } : {}),
      ...(env.signal ? { signal: env.signal } : {}),
      planFile: env.planFile,
    },
  );
  const version = await ports.version.serverVersion();
  const flags = stepFlags(env.flags);
  const steps = buildSteps(name, {
    plan: env.plan,
    planFile: env.planFile,
    stateDir: env.stateDir,
    ports,
    engine: createCopyEngine(),
    flags,
    version,
    facts,
    ...(secrets.database?.moveTo && secrets.database.current
      ? {
          databaseMove: {
            moveTo: secrets.database.moveTo,
            current: secrets.database.current,
            ...(secrets.sources.current ? { currentVariable: secrets.sources.current } : {}),
          },
        }
      : {}),
    ...(env.fullList ? { fullList: env.fullList } : {}),
    ...(env.journaledStepIds ? { journaledStepIds: env.journaledStepIds } : {}),
  });
  const close = async () => {
    await ports.inventory.close();
    await ports.targetDatabase?.close();
  };
  return {
    steps,
    close,
    afterRollback: (a: AfterRollback) => removeCopiesLeftEarlier(steps, flags, a),
    afterFailure: async (f: FailedRun) =>
      afterFailedRun(steps, f, {
        stopped: facts.get("stop-services")?.acted,
        // Read only when there is something to say about the services (stop-services still applied).
        ...(f.applied.includes("stop-services") && !f.stopped
          ? {
              live: await liveServiceStates(
                ports.services,
                env.plan.nodes.map((n) => n.name),
              ),
            }
          : {}),
      }),
    afterDone: (recorded) => afterMove(env.plan, recorded),
  };
}

/** A node's service as read just now, or "unreadable" when its recipe or ping failed (or took too long). */
export type LiveServiceStates = Record<string, ServiceState | "unreadable">;

/** How long the failure output waits for the services' live states before saying what the journal says instead. */
const LIVE_STATE_TIMEOUT_MS = 15_000;

/** Each node's service state, read-only, for the failure output; a node that cannot be read is "unreadable". */
export async function liveServiceStates(
  services: NodeServices,
  names: readonly string[],
  timeoutMs = LIVE_STATE_TIMEOUT_MS,
): Promise<LiveServiceStates> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"unreadable">((resolve) => {
    timer = setTimeout(() => resolve("unreadable"), timeoutMs);
    timer.unref();
  });
  const one = (n: string) => Promise.race([services.state(n).catch(() => "unreadable" as const), late]);
  try {
    const read = await Promise.all(names.map(one));
    return Object.fromEntries(names.map((n, i) => [n, read[i]!]));
  } finally {
    clearTimeout(timer);
  }
}

const joinAnd = (items: readonly string[]) =>
  items.length > 1 ? `${items.slice(0, -1).join(", ")} and ${items.at(-1)!}` : (items[0] ?? "");

/**
 * What the services are, as read just now: "every node's … is stopped" only when every node reads
 * stopped; otherwise which node runs and which is stopped, so the line never contradicts the error above it.
 */
function servicesAsRead(live: LiveServiceStates): string | undefined {
  const names = Object.keys(live);
  if (names.length === 0 || names.every((n) => live[n] === "unreadable")) return undefined;
  if (names.every((n) => live[n] === "stopped")) return "every node's Octopus service is stopped (Octopus is down)";
  const on = (state: ServiceState | "unreadable") => names.filter((n) => live[n] === state);
  const parts = [
    ...(on("running").length ? [`running on ${joinAnd(on("running"))}`] : []),
    ...(on("stopped").length ? [`stopped on ${joinAnd(on("stopped"))}`] : []),
    ...(on("unknown").length
      ? [`neither clearly running nor stopped on ${joinAnd(on("unknown"))} (its service manager and its ping disagree)`]
      : []),
    ...(on("unreadable").length ? [`not readable on ${joinAnd(on("unreadable"))}`] : []),
  ];
  return `the Octopus service, read just now, is ${joinAnd(parts)}`;
}

/**
 * What a failed run left in place, said in its failure output: each outage step it applied (and did
 * not skip: a repair with nothing to repair changes nothing) whose counterpart has not begun. Once
 * start-services has begun after a repath that acted, a rollback would refuse (a node may have run on
 * the new folders), so only resume is offered. The services are said as read just now when they can
 * be read (a failed undo of stop-services started some nodes; someone may have started one by hand),
 * else as the journal has them.
 */
const NOTHING_TO_REPAIR_FAILED =
  "This repair found nothing to repair and changed nothing (no node was drained, stopped or restarted). A node started before its folders were changed still uses its own disk until it restarts: run the repair again with --full to drain, stop and restart every node on the shared folders.";

export function afterFailedRun(
  steps: readonly AnyStep[],
  f: FailedRun,
  services: { stopped?: readonly string[] | undefined; live?: LiveServiceStates } = {},
): FailedRunNotes {
  const skipped = new Set(steps.filter((s) => s.skippedBecause?.() !== undefined).map((s) => s.id as string));
  const acted = (id: StepId) => f.applied.includes(id) && !skipped.has(id);
  const begun = (id: StepId) => f.applied.includes(id) || f.failedStepId === id;
  const left: string[] = [];
  const read = services.live ? servicesAsRead(services.live) : undefined;
  const stopped = services.stopped?.length ? joinAnd(services.stopped) : undefined;
  if (acted("stop-services") && !begun("start-services"))
    left.push(
      read ??
        (f.undoFailedStepId === "stop-services"
          ? `the Octopus service may still be stopped on ${stopped ?? "every node"} (stop-services' undo stopped part-way, and the services could not be read now)`
          : stopped
            ? `the Octopus service is stopped on ${stopped}, as stop-services left it${f.stopped ? "" : " (the services could not be read now)"}`
            : "every node's Octopus service is stopped (Octopus is down)"),
    );
  else if (acted("stop-services") && f.failedStepId === "start-services")
    left.push(read ?? "Octopus may be down: start-services failed, and the nodes it names are not running");
  if (acted("maintenance-on") && !begun("maintenance-off")) left.push("maintenance mode is on");
  if (acted("drain-nodes") && !begun("undrain")) left.push("every node is draining (takes no new tasks)");
  const leftInPlace = left.length > 0 ? joinAnd(left) : undefined;
  // A repair that found nothing to repair changed nothing; resume would verify the same cluster again.
  const advice = skipped.size > 0 ? NOTHING_TO_REPAIR_FAILED : undefined;
  return {
    ...(leftInPlace ? { leftInPlace } : {}),
    ...(advice ? { advice } : {}),
    ...(acted("repath") && begun("start-services") ? { rollback: false } : {}),
  };
}

/**
 * `rollback --remove-copies` on a run an earlier rollback already undid: its copy steps' rollbacks
 * (which remove the copies they may) and then provision-storage's (which removes the folders it
 * created once they are empty) run again, newest first. Both are safe to repeat.
 */
async function removeCopiesLeftEarlier(steps: AnyStep[], flags: StepFlags, a: AfterRollback): Promise<void> {
  if (!flags.removeCopies) return;
  const again = new Set<string>([...Object.values(COPY_STEP_IDS), "preseed", "provision-storage"]);
  for (const step of [...steps].reverse()) {
    if (again.has(step.id) && a.undoneEarlier.includes(step.id)) await step.rollback(a.context(step.id), a.recorded(step.id));
  }
}
