/**
 * `octoha join NODE`: add a node to the running cluster through its control recipe, as journaled steps
 * (issue 14; research-join-lb §1.1, the HA guide's "second and additional nodes" order):
 *   join-preflight (read-only) → join-create-instance (asks to confirm the master key is backed up) →
 *   join-database → join-configure → join-service → join-verify (read-only)
 * Each changing step checkpoints before it runs its command, so a resume after a kill knows the command may
 * have run: create-instance's "already exists" then means it did. The master key and the connection string
 * are secrets named by their environment variables; they never reach a checkpoint, an event or a shown line.
 */
import type { JoinCommand } from "../join/commands.js";
import type { NodeShell, ShellArg } from "../octopus/control/index.js";
import {
  answeredByOtherNode,
  offlineUnlessOtherNode,
  type DatabaseInventory,
  type NodePingAnswer,
  type ServerNodes,
  type ServerTasks,
  type VersionProbe,
} from "../octopus/types.js";
import type { Step, StepContext } from "../runner/step.js";
import { RollbackRefused } from "../runner/step.js";
import { InputError, OctohaError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import type { Clock } from "./deps.js";
import { countOf } from "../shared/plural.js";
import { configValue, parseShowConfiguration } from "../octopus/cli/folders.js";

export type JoinStepId = "join-preflight" | "join-create-instance" | "join-database" | "join-configure" | "join-service" | "join-verify";

export interface JoinPorts {
  nodes: ServerNodes;
  version: VersionProbe;
  tasks: ServerTasks;
  inventory: DatabaseInventory;
}

export interface JoinDeps {
  node: string;
  instance: string;
  shell: NodeShell;
  ports: JoinPorts;
  /** The commands in order (src/join/commands.ts); their EnvArgs become secrets named by the variable. */
  commands: JoinCommand[];
  /** The shared folders as Octopus on the node spells them. */
  sharedFolders: string[];
  /** The instance's config file, as create-instance's --config names it on the node. */
  instanceConfig: string;
  /** The instance's Home folder, as create-instance's --home names it on the node. */
  instanceHome: string;
  /** The plan file, for the commands a refusal names. */
  planFile: string;
  /** The node's own URL (the plan's nodes[].url): its listen prefix and where it is checked. */
  url: string;
  clock: Clock;
  /** How long the new node gets to answer its ping after its service starts. */
  startTimeoutMs: number;
  pollIntervalMs?: number;
  /** The checks a fresh run already made before anything was written (journaled by join-preflight as they were). */
  checked?: JoinChecks;
}

export interface JoinChecks {
  clusterVersion: string;
  nodeVersion: string;
  nodes: string[];
  sharedFolders: { path: string; reachable: boolean }[];
  /** Whether the instance's config file was on the node before anything changed (create-instance writes it). */
  instanceConfig?: { path: string; existed: boolean };
  /** The instance of that name the node already had (under any config file), as show-configuration read it. */
  instanceFound?: FoundInstance;
  problems: { code: string; summary: string; fix: string }[];
}

/** The first version-looking token of `Octopus.Server version`'s output (its format is not documented [U]). */
export function parseVersion(text: string): string | undefined {
  return /\b(\d{4}\.\d+\.\d+(?:\.\d+)?|\d+\.\d+\.\d+(?:\.\d+)?)\b/.exec(text)?.[1];
}

/** Read-only: version, name, shared folders, as seen from the new node. Every problem at once, each with its fix. */
export async function joinChecks(
  deps: Pick<JoinDeps, "node" | "instance" | "shell" | "ports" | "sharedFolders" | "instanceConfig" | "url" | "planFile">,
): Promise<JoinChecks> {
  const [nodes, clusterVersion, versionRun] = await Promise.all([
    deps.ports.nodes.list(),
    deps.ports.version.serverVersion(),
    deps.shell.server(["version"]),
  ]);
  const problems: JoinChecks["problems"] = [];
  const nodeVersion = versionRun.exitCode === 0 ? (parseVersion(versionRun.stdout) ?? "unknown") : "unknown";
  if (nodeVersion === "unknown")
    problems.push({
      code: "JOIN_VERSION_UNKNOWN",
      summary: `Could not read the Octopus Server version installed on ${deps.node} (${deps.shell.shown(["version"])} exited ${versionRun.exitCode})`,
      fix: `Check Octopus Server is installed on ${deps.node} where the plan's control recipe says (${deps.shell.description}).`,
    });
  else if (nodeVersion !== clusterVersion)
    problems.push({
      code: "JOIN_VERSION_MISMATCH",
      summary: `${deps.node} has Octopus Server ${nodeVersion} installed; the cluster runs ${clusterVersion}`,
      fix: `Install exactly Octopus Server ${clusterVersion} on ${deps.node} (every node of a cluster runs the same version), then run octoha join again.`,
    });
  const taken = nodes.find((n) => n.name.toLowerCase() === deps.node.toLowerCase());
  if (taken)
    problems.push({
      code: "JOIN_NODE_NAME_TAKEN",
      summary: `The cluster already has a node ${taken.name} (${taken.id}); nodes now: ${nodes.map((n) => n.name).join(", ")}`,
      fix:
        `If ${taken.name} is this machine, joined already (by hand, or by a join run with another state directory), there is nothing to do: ` +
        "its ping answers 200 while it serves. Otherwise choose another name for the new node; if it replaces a retired node of that name, " +
        "delete that node first (Configuration > Nodes) once it is stopped for good.",
    });
  const sharedFolders: JoinChecks["sharedFolders"] = [];
  for (const p of deps.sharedFolders) sharedFolders.push({ path: p, reachable: await deps.shell.testPath(p) });
  const unreachable = sharedFolders.filter((f) => !f.reachable);
  if (unreachable.length > 0)
    problems.push({
      code: "JOIN_SHARE_UNREACHABLE",
      summary: `${deps.node} cannot reach the shared folder${unreachable.length === 1 ? "" : "s"} ${unreachable.map((f) => f.path).join(", ")}`,
      fix: `From ${deps.node}, make the share reachable for the account Octopus will run as (DNS, firewall TCP 445, share and NTFS permissions); Test-Path must answer True there. Every node reads the task logs other nodes wrote.`,
    });
  const answered = await urlAnswer(deps);
  if (answered) problems.push(answered);
  const instanceConfig = { path: deps.instanceConfig, existed: await deps.shell.testPath(deps.instanceConfig, "file") };
  // An instance of that name under another config file: create-instance would refuse it, after the run has begun.
  const instanceFound = instanceConfig.existed ? undefined : await readInstance(deps);
  if (instanceConfig.existed) problems.push(instanceExistsProblem(deps));
  else if (instanceFound) problems.push(instanceNameTakenProblem(deps, instanceFound));
  return {
    clusterVersion,
    nodeVersion,
    nodes: nodes.map((n) => n.name),
    sharedFolders,
    instanceConfig,
    ...(instanceFound ? { instanceFound } : {}),
    problems,
  };
}

/** An instance on the node as its config file says (show-configuration): the node name it runs as, and its Home. */
export interface FoundInstance {
  nodeName?: string;
  home?: string;
}

const showConfigurationArgs = (instance: string) => [
  "show-configuration",
  "--instance",
  instance,
  "--format=json",
  "--noconsolelogging",
  "--console",
];

/**
 * Read-only: the node's instance of that name, as `show-configuration --instance` prints it (every command takes
 * --instance [V]; Octopus.Server.NodeName and Octopus.Home are config-file keys [V]). Undefined when the command
 * fails: no such instance, or one it cannot read. Only a success is taken as proof that an instance is there.
 */
async function readInstance(deps: Pick<JoinDeps, "instance" | "shell">): Promise<FoundInstance | undefined> {
  const r = await deps.shell.server(showConfigurationArgs(deps.instance));
  if (r.exitCode !== 0) return undefined;
  let config: Record<string, unknown>;
  try {
    config = parseShowConfiguration(r.stdout);
  } catch {
    return {};
  }
  const text = (key: string) => {
    const v = configValue(config, key);
    return typeof v === "string" && v !== "" ? v : undefined;
  };
  const nodeName = text("Octopus.Server.NodeName");
  const home = text("Octopus.Home");
  return { ...(nodeName ? { nodeName } : {}), ...(home ? { home } : {}) };
}

const samePath = (a: string, b: string) => a.replace(/[\\/]+$/, "").toLowerCase() === b.replace(/[\\/]+$/, "").toLowerCase();

/** The instance is the one this run's create-instance makes: its node name and Home are the run's. */
function isThisRunsInstance(deps: Pick<JoinDeps, "node" | "instanceHome">, found: FoundInstance | undefined): boolean {
  return (
    found?.nodeName !== undefined &&
    found.nodeName.toLowerCase() === deps.node.toLowerCase() &&
    found.home !== undefined &&
    samePath(found.home, deps.instanceHome)
  );
}

const describeFound = (f: FoundInstance) => `node name ${f.nodeName ?? "(not shown)"}, Home ${f.home ?? "(not shown)"}`;

/**
 * Read-only: who answers Octopus's node ping at the new node's URL. Before it joins nothing may answer there as an
 * Octopus node: an existing node (named by the ping's Name or the Octopus-Node header) means the plan's url reaches
 * that node, and every check after the join would be about it, not about the new one.
 */
async function urlAnswer(deps: Pick<JoinDeps, "node" | "ports" | "url">): Promise<JoinChecks["problems"][number] | undefined> {
  const fix = `Set nodes[].url for ${deps.node} to its own address (host and a port nothing else listens on), not an existing node's or the load balancer's; it becomes ${deps.node}'s listen prefix.`;
  try {
    const ping = await deps.ports.nodes.ping(deps.node);
    if (ping === "offline") return undefined;
    return {
      code: "JOIN_URL_ANSWERED",
      summary: `An Octopus Server already answers the node ping at ${deps.node}'s url ${deps.url} (${ping}), before ${deps.node} has joined`,
      fix,
    };
  } catch (error) {
    if (!answeredByOtherNode(error)) throw error;
    return { code: "JOIN_URL_ANSWERED", summary: error instanceof Error ? error.message : String(error), fix };
  }
}

/**
 * join-configure's re-check of the url it is about to make the node's listen prefix (the checks ran when the run
 * started; a resume reads the plan as it is now). Answered by a node, it stops before configure runs, resumable:
 * join-configure has not set anything yet, so a resume after the url is corrected configures the corrected one.
 */
async function refuseAnsweredUrl(deps: Pick<JoinDeps, "node" | "ports" | "url" | "planFile">): Promise<void> {
  const answered = await urlAnswer(deps);
  if (!answered) return;
  throw new OctohaError(`${answered.summary.replace(/\.$/, "")}; join-configure did not run`, {
    code: answered.code,
    exitCode: ExitCode.Resumable,
    node: deps.node,
    step: "join-configure",
    hint: `${answered.fix}\nThen run \`octoha resume ${deps.planFile} --yes\`: join-configure runs with the corrected url.`,
  });
}

const uninstallCommands = (deps: Pick<JoinDeps, "shell">, instance: string) =>
  `${deps.shell.shown(["service", "--instance", instance, "--stop", "--uninstall"])}; ${deps.shell.shown(["delete-instance", "--instance", instance])}`;

/** An instance (its config file) that was on the node before the join: never the join's to configure and start. */
function instanceExistsProblem(deps: Pick<JoinDeps, "node" | "instance" | "shell" | "instanceConfig">): JoinChecks["problems"][number] {
  return {
    code: "JOIN_INSTANCE_EXISTS",
    summary: `${deps.node} already has the config file ${deps.instanceConfig}: an Octopus instance was made there before the join, not by it`,
    fix:
      `If it is a failed earlier attempt, remove it on ${deps.node} (${uninstallCommands(deps, deps.instance)}, then delete ${deps.instanceConfig}); ` +
      "otherwise give the new instance another config file (--config) or name another instance in the plan (octopus.instance).",
  };
}

/** An instance of the plan's name under another config file: create-instance refuses a name that is taken, whatever --config says. */
function instanceNameTakenProblem(
  deps: Pick<JoinDeps, "node" | "instance" | "shell">,
  found: FoundInstance,
): JoinChecks["problems"][number] {
  return {
    code: "JOIN_INSTANCE_EXISTS",
    summary: `${deps.node} already has an Octopus instance named ${deps.instance} (show-configuration --instance ${deps.instance} reads it: ${describeFound(found)}), made before the join, not by it`,
    fix:
      `If it is a failed earlier attempt, remove it on ${deps.node} (${uninstallCommands(deps, deps.instance)}, then delete its config file); ` +
      `otherwise name another instance in the plan (octopus.instance): another --config does not help, the name ${deps.instance} is taken.`,
  };
}

/** Each problem with its fix, one entry per problem. */
const problemLines = (checks: JoinChecks): string[] => checks.problems.map((p) => `${p.summary}\n  fix: ${p.fix}`);

/** The checks' refusal: bad input, nothing changed (exit 2). The problems are its issues, printed once, under the summary. */
export function joinRefusal(node: string, checks: JoinChecks): InputError {
  const n = checks.problems.length;
  return new InputError(`octoha join ${node}: ${n} problem${n === 1 ? "" : "s"} found before anything changed; nothing was changed`, {
    code: checks.problems.length === 1 ? checks.problems[0]!.code : "JOIN_REFUSED",
    node,
    issues: problemLines(checks),
  });
}

export interface CommandResult {
  step: string;
  /** The command as shown: secrets as <redacted>. */
  command: string;
  exitCode: number;
  output: string;
  /** The command had already done its work (resume after a kill between running it and journaling it). */
  alreadyDone?: boolean;
}

interface CommandCheckpoint {
  started: true;
  command: string;
  /** create-instance found the instance there before this run made it. */
  preexisting?: true;
  /**
   * create-instance only: whether the instance's config file was on the node just before this run first ran the
   * command (read-only Test-Path, journaled before the command). False proves the node had no instance there then.
   */
  configBefore?: boolean;
}
/** A command's arguments for the node's shell: its environment variables become secrets named by the variable. */
export const argsOf = (c: JoinCommand): ShellArg[] => c.argv.slice(1).map((a) => (typeof a === "string" ? a : { secret: a.env }));
const tail = (s: string) => s.trim().split(/\r?\n/).filter(Boolean).slice(-6).join("\n");

function commandStep(
  id: Exclude<JoinStepId, "join-preflight" | "join-verify">,
  title: string,
  command: JoinCommand,
  deps: JoinDeps,
  extra: Partial<Step<CommandResult, JoinStepId>> = {},
): Step<CommandResult, JoinStepId> {
  const args = argsOf(command);
  const shown = deps.shell.shown(args);
  // This run made no instance: the way out is to remove the other one and resume, or to close the run (its rollback
  // has nothing to undo) and join again under another name; --config given to a resume would be ignored.
  const instanceExists = (why: string, said?: string, proven = true) =>
    new OctohaError(`Node ${deps.node} already has an instance ${deps.instance}, not made by this run: ${why}`, {
      code: "JOIN_INSTANCE_EXISTS",
      exitCode: ExitCode.Resumable,
      node: deps.node,
      step: id,
      hint:
        `${said ? `It said:\n${said}\n` : ""}octoha configures and starts only an instance it made itself` +
        `${proven ? `; this run made none and changed nothing on ${deps.node}` : ` (read it on ${deps.node} with ${deps.shell.shown(showConfigurationArgs(deps.instance))}: this run's runs as ${deps.node} from ${deps.instanceHome})`}. Either:\n` +
        `  if that instance is a failed earlier attempt, remove it on ${deps.node} (${uninstallCommands(deps, deps.instance)}, then delete its config file), then run \`octoha resume ${deps.planFile} --yes\`; or\n` +
        `  keep it: close this run with \`octoha rollback ${deps.planFile} --yes\` (nothing to undo), then join again under another instance name (octopus.instance in the plan).`,
    });
  return {
    id,
    title,
    async inspect() {
      return {
        changes: [
          {
            action: id === "join-create-instance" ? "create" : "update",
            target: `node ${deps.node}`,
            summary: `On ${deps.node}: ${shown}`,
            after: command.why,
          },
        ],
        findings: [],
      };
    },
    async apply(ctx: StepContext, last: CommandCheckpoint | CommandResult | undefined) {
      const creates = id === "join-create-instance";
      // The url becomes the listen prefix here: a resume may run with a plan whose url changed since the checks.
      if (id === "join-configure") await refuseAnsweredUrl(deps);
      const earlier = last !== undefined && "started" in last && last.preexisting !== true ? last : undefined;
      // What was on the node before this run's first create-instance: journaled before the command can run, so a
      // resume after a kill between the command and its answer knows whether an "already exists" can be its own.
      let configBefore = earlier?.configBefore;
      if (creates && earlier === undefined) {
        configBefore = await deps.shell.testPath(deps.instanceConfig, "file");
        if (configBefore) {
          await ctx.checkpoint({ started: true, command: shown, preexisting: true, configBefore } satisfies CommandCheckpoint);
          throw instanceExists(`its config file ${deps.instanceConfig} was there before create-instance ran`);
        }
      }
      await ctx.checkpoint({
        started: true,
        command: shown,
        ...(configBefore === undefined ? {} : { configBefore }),
      } satisfies CommandCheckpoint);
      ctx.emit({ level: "info", message: `${deps.node}: ${shown}` });
      const r = await deps.shell.server(args);
      const output = tail(`${r.stdout}\n${r.stderr}`);
      const exists = r.exitCode !== 0 && creates && /already exists/i.test(output);
      // This run's own earlier create-instance made it only if the config file was absent before that attempt and is
      // there now (create-instance writes it, and refuses an existing instance without writing it [I]), and the
      // instance runs as this node from this run's Home: someone may have made one at that path meanwhile.
      if (exists && earlier !== undefined && configBefore === false && (await deps.shell.testPath(deps.instanceConfig, "file"))) {
        const found = await readInstance(deps);
        if (isThisRunsInstance(deps, found)) return { step: id, command: shown, exitCode: r.exitCode, output, alreadyDone: true };
        // Proven someone else's only when it could be read; unread, it may still be this run's (a rollback then says how to remove it).
        if (found) await ctx.checkpoint({ started: true, command: shown, preexisting: true } satisfies CommandCheckpoint);
        throw instanceExists(
          found
            ? `its config file ${deps.instanceConfig} appeared after this run's create-instance was about to run, but show-configuration reads ${describeFound(found)}, not ${deps.node} and ${deps.instanceHome}: someone else made it`
            : `its config file ${deps.instanceConfig} appeared after this run's create-instance was about to run, but show-configuration could not read it to prove it runs as ${deps.node}`,
          output,
          found !== undefined,
        );
      }
      if (exists) {
        await ctx.checkpoint({ started: true, command: shown, preexisting: true } satisfies CommandCheckpoint);
        throw instanceExists(
          earlier === undefined || configBefore !== false
            ? "create-instance answered that it already exists"
            : `create-instance answers that it already exists, and its config file ${deps.instanceConfig}, absent before this run's create-instance, is still absent: another instance of that name is there`,
          output,
        );
      }
      if (r.exitCode !== 0)
        throw new OctohaError(`Node ${deps.node}: ${command.step} exited with code ${r.exitCode}`, {
          code: "JOIN_COMMAND_FAILED",
          exitCode: ExitCode.Resumable,
          node: deps.node,
          step: id,
          hint: `${output ? `It said:\n${output}\n` : ""}Fix the cause on ${deps.node}, then run \`octoha resume\` (the command runs again). By hand: ${deps.shell.byHand(args)}`,
        });
      return { step: id, command: shown, exitCode: 0, output };
    },
    async verify(_ctx, r) {
      return { ok: r.exitCode === 0 || r.alreadyDone === true, summary: `${command.step} on ${deps.node}: done` };
    },
    async rollback() {
      // Undone by the service step (stop) and by hand (delete-instance): see rollbackRefusal.
    },
    ...extra,
  };
}

/** create-instance stopped at an instance that was not this run's (its last checkpoint says so): it made nothing. */
const madeNothing = (r: unknown): boolean =>
  typeof r === "object" && r !== null && "started" in r && (r as CommandCheckpoint).preexisting === true;

export interface JoinVerifyResult {
  listed: boolean;
  ping: string;
  isDraining: boolean;
  readTask?: { id: string; ranOn: string };
}

export function buildJoinSteps(deps: JoinDeps): Step<unknown, JoinStepId>[] {
  const byStep = (s: JoinCommand["step"]) => {
    const c = deps.commands.find((x) => x.step === s);
    if (!c) throw new Error(`no ${s} command`);
    return c;
  };
  const preflight: Step<JoinChecks, JoinStepId> = {
    id: "join-preflight",
    title: `Check ${deps.node} can join: same Octopus version as the cluster, name free, shared folders reachable from it, no node answering at its url`,
    readOnly: true,
    async inspect() {
      const c = await joinChecks(deps);
      return {
        changes: [],
        findings: c.problems.map((p) => ({ severity: "error" as const, code: p.code, summary: p.summary, fix: p.fix })),
        facts: { ...c },
      };
    },
    async apply(ctx) {
      const c = deps.checked ?? (await joinChecks(deps));
      await ctx.checkpoint(c);
      if (c.problems.length > 0) {
        const refusal = joinRefusal(deps.node, c);
        // In a resumed run the name may be ours by now; anything else stops here, resumable once fixed.
        throw new OctohaError(refusal.message, {
          code: refusal.code,
          exitCode: ExitCode.Resumable,
          node: deps.node,
          hint: refusal.issues.join("\n"),
        });
      }
      return c;
    },
    async verify(_ctx, c) {
      return {
        ok: c.problems.length === 0,
        summary: `${deps.node}: Octopus ${c.nodeVersion}, name free, ${countOf(c.sharedFolders.length, "shared folder")} reachable`,
      };
    },
    async rollback() {
      // Read-only.
    },
  };
  const uninstall = (instance: string) => uninstallCommands(deps, instance);
  // No documented command takes a database or master key off an instance; delete-instance removes the instance and its node row [V].
  const databaseStays = () =>
    `octoha cannot take the cluster's connection string and master key off ${deps.node}'s instance ${deps.instance} (no documented command does, ` +
    `short of deleting the instance, which octoha does not do), and ${deps.node} stays registered as a node if its service ever started. ` +
    `On ${deps.node} run: ${uninstall(deps.instance)}. Then \`octoha join ${deps.node}\` can start over.`;
  const steps: Step<unknown, JoinStepId>[] = [
    preflight,
    commandStep(
      "join-create-instance",
      `Create instance ${deps.instance} on ${deps.node}: first confirm the master key is backed up (the cluster's data cannot be decrypted without it)`,
      byStep("create-instance"),
      deps,
      {
        requiresApproval: true,
        async rollbackRefusal(_ctx, r) {
          if (madeNothing(r)) return undefined;
          return `octoha does not delete instances; on ${deps.node} run: ${uninstall(deps.instance)}`;
        },
        async rollback(ctx, r) {
          if (madeNothing(r)) {
            ctx.emit({
              level: "info",
              message: `${deps.node}: nothing to undo: this run made no instance there (the instance ${deps.instance} on ${deps.node} is not this run's and is left as it is).`,
            });
            return;
          }
          throw new RollbackRefused(
            "join-create-instance",
            `octoha does not delete instances; on ${deps.node} run: ${uninstall(deps.instance)}`,
          );
        },
      },
    ),
    commandStep("join-database", `Point ${deps.node} at the cluster's database with the cluster's master key`, byStep("database"), deps, {
      async rollbackRefusal() {
        return databaseStays();
      },
      async rollback() {
        throw new RollbackRefused("join-database", databaseStays());
      },
    }),
    commandStep("join-configure", `Configure ${deps.node}'s listen prefixes and polling port`, byStep("configure"), deps, {
      async rollback(ctx) {
        // Nothing to put back (the run made the instance): the step counts as undone so a resume sets them again.
        ctx.emit({
          level: "info",
          message: `${deps.node}: nothing taken back: its listen prefix and polling port stay in its config as join-configure set them; a resume sets them again from the plan.`,
        });
      },
    }),
    commandStep(
      "join-service",
      `Install and start the Octopus service on ${deps.node}: it registers as a node`,
      byStep("service-install"),
      deps,
      {
        async rollback(ctx) {
          const r = await deps.shell.server(["service", "--instance", deps.instance, "--stop"]);
          if (r.exitCode !== 0)
            throw new OctohaError(`Node ${deps.node}: service --stop exited with code ${r.exitCode}`, {
              code: "JOIN_COMMAND_FAILED",
              node: deps.node,
              hint: tail(`${r.stdout}\n${r.stderr}`),
            });
          ctx.emit({
            level: "info",
            message:
              `${deps.node}: its service is stopped; it stays installed, and ${deps.node} stays registered as a node (offline in Configuration > Nodes): ` +
              `a resume starts it again. To remove it for good, on ${deps.node}: ${uninstall(deps.instance)} (delete-instance also deletes its node registration).`,
          });
        },
      },
    ),
    verifyStep(deps),
  ];
  return steps;
}

function verifyStep(deps: JoinDeps): Step<JoinVerifyResult, JoinStepId> {
  const fail = (why: string, fix: string) =>
    new OctohaError(`Node ${deps.node} joined but ${why}`, {
      code: "JOIN_VERIFY_FAILED",
      exitCode: ExitCode.Resumable,
      node: deps.node,
      hint: `${fix}\nThen run \`octoha resume\` (only this check runs again).`,
    });
  return {
    id: "join-verify",
    title: `Prove ${deps.node} serves: listed in /api/octopusservernodes, ping 200, reads another node's task log, not draining`,
    readOnly: true,
    async inspect() {
      return { changes: [], findings: [] };
    },
    async apply(ctx) {
      const deadline = deps.clock.now() + deps.startTimeoutMs;
      const nodes = deps.ports.nodes;
      const pingNow = (): Promise<NodePingAnswer> =>
        (nodes.pingAnswer ? nodes.pingAnswer(deps.node) : nodes.ping(deps.node).then((ping) => ({ ping }))).catch((error: unknown) => ({
          ping: offlineUnlessOtherNode(error),
        }));
      let answer = await pingNow();
      while (answer.ping === "offline" && deps.clock.now() < deadline && !ctx.signal.aborted) {
        const starting = answer.status === 503 ? " (503: still starting)" : "";
        ctx.emit({ level: "progress", message: `Waiting for ${deps.node} to answer its ping after its start${starting}` });
        await deps.clock.sleep(deps.pollIntervalMs ?? 1000, ctx.signal);
        answer = await pingNow();
      }
      const ping = answer.ping;
      const listed = (await deps.ports.nodes.list()).find((n) => n.name.toLowerCase() === deps.node.toLowerCase());
      if (!listed)
        throw fail(
          "it is not in /api/octopusservernodes",
          `Look at ${deps.node}'s server log (Home\\Logs\\OctopusServer.txt): it did not register in the database.`,
        );
      const waited = `${Math.round(deps.startTimeoutMs / 1000)} s`;
      if (ping === "offline" && answer.status === 503)
        throw fail(
          `it is still starting: its ping answered 503 (Service Unavailable) for ${waited}`,
          `Its service runs; Octopus has not finished starting. Wait, or read ${deps.node}'s server log (Home\\Logs\\OctopusServer.txt) ` +
            "for what holds it up (a database upgrade or a slow first start can take minutes; options.serviceStartTimeoutMinutes sets the wait).",
        );
      if (ping === "offline")
        throw fail(
          answer.status !== undefined
            ? `its ping answered HTTP ${answer.status}, not 200, for ${waited}`
            : `its ping did not answer within ${waited}`,
          `Check its service runs and its listen prefix matches the plan's url for ${deps.node}.`,
        );
      if (ping === "draining" || listed.isDraining)
        throw fail(
          "it is draining (its ping answers 418): the load balancer sends it nothing",
          "Undrain it in Configuration > Nodes if that is not intended.",
        );
      const task = await anotherNodesTask(deps);
      if (task) {
        try {
          await deps.ports.tasks.readRawLog(task.id, deps.node);
        } catch (error) {
          throw fail(
            `it cannot read task ${task.id}'s log, written by ${task.ranOn} (${error instanceof Error ? error.message : String(error)})`,
            `${deps.node} must reach the shared TaskLogs folder as its service account: check the share's permissions for that account.`,
          );
        }
      } else
        ctx.emit({
          level: "warn",
          message: `No completed task of another node to read through ${deps.node}: the task-log check was skipped`,
        });
      const r: JoinVerifyResult = { listed: true, ping, isDraining: false, ...(task ? { readTask: task } : {}) };
      await ctx.checkpoint(r);
      return r;
    },
    async verify(_ctx, r) {
      return { ok: true, summary: `${deps.node} serves${r.readTask ? ` and reads ${r.readTask.id} (run by ${r.readTask.ranOn})` : ""}` };
    },
    async rollback() {
      // Read-only.
    },
  };
}

/** The newest completed task another node ran: its log is on the share, written by that node. */
async function anotherNodesTask(deps: JoinDeps): Promise<{ id: string; ranOn: string } | undefined> {
  let found: { id: string; ranOn: string } | undefined;
  for await (const t of deps.ports.inventory.tasks({ completedOnly: true })) {
    const ranOn = t.serverNode ?? "";
    if (ranOn && ranOn.toLowerCase() !== deps.node.toLowerCase()) found = { id: t.id, ranOn };
  }
  return found;
}
