/**
 * The "join" workflow: `octoha join NODE --plan PLAN` (without --print). The node is one of the plan's nodes,
 * with its url and a control recipe that can run commands there (winrm, ssh, local, argv with `exec`).
 * Everything that can refuse does so before the runner writes a state directory, a lock or a journal (exit 2):
 * the node's recipe, the master key and connection string variables, and on a fresh run the checks from the
 * node (version, name, shared folders). A resumed run was checked when it started: its name is now its own.
 */
import { joinCommands, listenPrefixFor, defaultServerExe, pollingPortFor, type JoinCommand, type JoinPlatform } from "../join/commands.js";
import { canRunCommands, nodeShell, type ControlRecipe } from "../octopus/control/index.js";
import { controlTools, nodeRecipe } from "../plan/control.js";
import { resolveSecrets } from "../plan/secrets.js";
import type { Plan } from "../plan/schema.js";
import type { Workflow, WorkflowEnv } from "./workflows.js";
import { InputError, OctohaError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import { continueCommand, listRuns } from "../runner/runs.js";
import { readJournal, type JournalRecord } from "../runner/journal.js";
import { realClock } from "./deps.js";
import { argsOf, buildJoinSteps, joinChecks, joinRefusal, type JoinChecks } from "./join.js";
import { createOctopusPorts } from "./ports.js";
import { shellWord } from "../shared/shell-word.js";

export const DEFAULT_MASTER_KEY_ENV = "OCTOPUS_MASTER_KEY";

/** What `octoha join` journals as the run's flags (names of variables, never values). */
export interface JoinFlags {
  joinNode: string;
  masterKeyEnv?: string;
  connectionStringEnv?: string;
  platform?: JoinPlatform;
  commsPort?: string;
  home?: string;
  config?: string;
  serverExe?: string;
}

export function joinFlagsOf(flags: WorkflowEnv["flags"], planFile: string): JoinFlags {
  const str = (k: string) => (typeof flags[k] === "string" ? (flags[k] as string) : undefined);
  const node = str("joinNode");
  if (!node)
    throw new InputError("The join workflow was started without a node name", {
      code: "JOIN_NODE_MISSING",
      hint: `Run, with the new node's name for NODE: octoha join NODE --plan ${shellWord(planFile)}`,
    });
  const platform = str("platform");
  return {
    joinNode: node,
    ...(str("masterKeyEnv") ? { masterKeyEnv: str("masterKeyEnv") } : {}),
    ...(str("connectionStringEnv") ? { connectionStringEnv: str("connectionStringEnv") } : {}),
    ...(platform === "windows" || platform === "linux" ? { platform } : {}),
    ...(str("commsPort") ? { commsPort: str("commsPort") } : {}),
    ...(str("home") ? { home: str("home") } : {}),
    ...(str("config") ? { config: str("config") } : {}),
    ...(str("serverExe") ? { serverExe: str("serverExe") } : {}),
  };
}

/** The recipes that can run a command on the node (canRunCommands): sc and argv without exec only stop and start a service. */
const JOIN_RECIPE_EXAMPLES = [
  '{ "kind": "winrm", "host": "OCTO3" }  (PowerShell remoting)',
  '{ "kind": "ssh", "host": "octo3.corp", "sudo": true }  (Linux)',
  '{ "kind": "argv", "stop": [...], "start": [...], "exec": ["docker", "exec", "octo3"] }  (a prefix that runs a command there)',
  '{ "kind": "local" }  (the machine octoha runs on)',
];

/** The plan's node and its recipe, or exit 2 saying how to give it one (or to paste the commands with --print). */
export function joiningNode(plan: Plan, name: string, planFile: string): { url: string; recipe: ControlRecipe; pollingAddress?: string } {
  const node = plan.nodes.find((n) => n.name.toLowerCase() === name.toLowerCase());
  const print = `octoha join ${shellWord(name)} --plan ${shellWord(planFile)} --print`;
  if (!node)
    throw new InputError(`${name} is not a node of the plan: octoha reaches a new node through the plan's nodes[].control`, {
      code: "JOIN_NODE_NOT_IN_PLAN",
      path: planFile,
      hint: `Add { "name": "${name}", "url": "http://${name.toLowerCase()}:80/", "control": { "kind": "winrm", "host": "${name}" } } to the plan's nodes. Recipes join can use: ${JOIN_RECIPE_EXAMPLES.join("; ")}.\nWhere octoha cannot reach the node, print the commands to run there: ${print}`,
    });
  const recipe = nodeRecipe(plan, node);
  if (!canRunCommands(recipe))
    throw new InputError(
      `Node ${name}'s control recipe (${recipe.kind}${recipe.kind === "argv" ? " without exec" : ""}) cannot run commands on it: the ${recipe.kind === "sc" ? "Windows service manager only stops and starts services" : "plan's argv commands only stop and start it"}`,
      {
        code: "JOIN_RECIPE_CANNOT_RUN",
        path: planFile,
        hint: `Give ${name} a winrm, ssh or local recipe (or argv with "exec": [...], a prefix that runs a command there), or print the commands to run on it yourself: ${print}`,
      },
    );
  if (!node.url)
    throw new InputError(`Node ${name} has no url in the plan: octoha checks the new node through its own URL`, {
      code: "JOIN_NODE_URL_MISSING",
      path: planFile,
      hint: `Set nodes[].url for ${name} (e.g. http://${name.toLowerCase()}:80/): it also sets the node's listen prefix.`,
    });
  return { url: node.url, recipe, ...(node.pollingAddress ? { pollingAddress: node.pollingAddress } : {}) };
}

/** The newest join run of NODE in the state directory, with its records and whether it ended joined. Read-only; an unreadable journal counts as no run. */
async function newestJoinOf(
  stateDir: string,
  node: string,
): Promise<{ runId: string; records: JournalRecord[]; joined: boolean } | undefined> {
  for (const runId of await listRuns(stateDir)) {
    const records = await readJournal(stateDir, runId).then(
      (j) => j.records,
      () => [],
    );
    const header = records.find((r) => r.t === "run");
    const joinNode = header?.t === "run" && header.invocation?.workflow === "join" ? header.invocation.flags?.joinNode : undefined;
    if (typeof joinNode !== "string" || joinNode.toLowerCase() !== node.toLowerCase()) continue;
    // Joined: it proved the node serves (join-verify verified) and no rollback stopped its service since
    // (a rollback refused at create-instance leaves it joined too).
    const served = records.some((r) => r.t === "verified" && r.stepId === "join-verify" && r.ok);
    const stopped = records.some((r) => r.t === "rolled-back" && r.stepId === "join-service");
    return { runId, records, joined: served && !stopped };
  }
  return undefined;
}

/** The newest join run of NODE when it ended joined: the node the cluster already has by that name is the one it joined. */
async function finishedJoinOf(stateDir: string, node: string): Promise<string | undefined> {
  const newest = await newestJoinOf(stateDir, node);
  return newest?.joined ? newest.runId : undefined;
}

/** Steps of a join run that change the node (preflight and verify only read). */
const CHANGING_JOIN_STEPS = ["join-create-instance", "join-database", "join-configure", "join-service"];

/**
 * The newest join run of NODE in the state directory when it is not finished: a changing step of it is still applied
 * (or was begun) while the run did not end joined, e.g. one stopped part-way or rolled back `--to` a step. A new join
 * would start over on top of what it left; its resume or rollback is the way on. Read-only.
 */
async function unfinishedJoinOf(stateDir: string, node: string): Promise<UnfinishedJoin | undefined> {
  const newest = await newestJoinOf(stateDir, node);
  if (!newest || newest.joined) return undefined;
  const { runId, records } = newest;
  const last = new Map<string, "applied" | "begun" | "undone" | "nothing">();
  for (const r of records)
    if (r.t === "applied") last.set(r.stepId, "applied");
    else if (r.t === "rolled-back") last.set(r.stepId, "undone");
    else if (r.t === "checkpoint" && last.get(r.stepId) !== "applied")
      // create-instance that met someone else's instance made nothing (its checkpoint says so).
      last.set(r.stepId, (r.data as { preexisting?: unknown } | null)?.preexisting === true ? "nothing" : "begun");
  const applied = CHANGING_JOIN_STEPS.filter((id) => last.get(id) === "applied");
  const begun = CHANGING_JOIN_STEPS.filter((id) => last.get(id) === "begun");
  const undone = CHANGING_JOIN_STEPS.filter((id) => last.get(id) === "undone");
  return applied.length + begun.length > 0 ? { runId, applied, begun, undone } : undefined;
}

interface UnfinishedJoin {
  runId: string;
  applied: string[];
  /** Begun (checkpointed) but not journaled as applied: its command may have run. */
  begun: string[];
  undone: string[];
}

/** A new join while an earlier join run of the node is unfinished: its resume or rollback is the way on (exit 2). */
function unfinishedJoin(node: string, open: UnfinishedJoin, planFile: string, stateDir: string): InputError {
  const where = { runId: open.runId, stateDir, planFile };
  const said = [
    ...(open.applied.length ? [`${open.applied.join(", ")} ${open.applied.length === 1 ? "stays" : "stay"} applied`] : []),
    ...(open.begun.length ? [`${open.begun.join(", ")} began (its command may have run)`] : []),
    ...(open.undone.length ? [`${open.undone.join(", ")} undone by a rollback`] : []),
  ];
  return new InputError(
    `Join run ${open.runId} of ${node} is not finished (${said.join("; ")}): a new join would start over on top of it; nothing was changed`,
    {
      code: "JOIN_RUN_UNFINISHED",
      node,
      path: planFile,
      hint:
        `Finish that run (it applies the steps not applied yet, then proves ${node} serves):\n  ${continueCommand({ verb: "resume", ...where, yes: true })}\n` +
        `or undo it (a step that cannot be undone by octoha refuses and names the commands to run on ${node}):\n  ${continueCommand({ verb: "rollback", ...where })}`,
    },
  );
}

/** Running a join that already finished: nothing to do (exit 2: nothing was changed). */
function alreadyJoined(node: string, runId: string, planFile: string, url: string): InputError {
  const ping = new URL("api/octopusservernodes/ping", url.endsWith("/") ? url : `${url}/`).href;
  return new InputError(`${node} is already a node of the cluster: run ${runId} joined it; nothing was changed`, {
    code: "JOIN_ALREADY_JOINED",
    node,
    path: planFile,
    hint:
      `There is nothing to do. \`octoha status ${planFile} --run ${runId}\` shows that run; ${node}'s ping (GET ${ping}) answers 200 while it serves. ` +
      `To replace ${node} with another machine of the same name, retire the old node first (stop it, then delete it in Configuration > Nodes).`,
  });
}

/**
 * A resume whose plan now gives the node another listen prefix or polling port than the one join-configure already
 * set would check, balance and tell Tentacles about the new address while the node listens on the old one. The
 * runner never applies a journaled step again, and configure takes effect only at the service's next start, so
 * the resume is refused (nothing done) with the way through: roll back to before join-configure, then resume.
 */
function refuseReconfigured(env: WorkflowEnv, node: string, configureNow: string): void {
  const recorded = env.priorResult?.("join-configure") as { command?: unknown; exitCode?: unknown } | undefined;
  // Only an applied configure: one that was in flight runs again on the resume, with the plan as it is now.
  if (recorded?.exitCode === undefined || typeof recorded.command !== "string" || recorded.command === configureNow) return;
  const plan = env.planFile;
  throw new InputError(
    `Plan ${plan} now configures ${node} differently from what join-configure of this run already set; nothing was done:\n` +
      `  set:  ${recorded.command}\n  plan: ${configureNow}`,
    {
      code: "JOIN_CONFIGURE_CHANGED",
      node,
      path: plan,
      hint:
        `${node} listens where it was configured, while the resume would check it (and lb and tentacles would send to it) at the plan's url. Either:\n` +
        `  octoha rollback ${plan} --to join-configure --yes   (stops ${node}'s service if join-service ran), then\n` +
        `  octoha resume ${plan} --yes                          (runs join-configure again with the plan's url, then starts the node)\n` +
        `or put nodes[].url (and --comms-port / pollingAddress) for ${node} back as they were and resume.`,
    },
  );
}

/**
 * The checks of a fresh run, made before the runner writes a state directory or a journal: a node that cannot be
 * reached, refuses octoha's account or hangs stops it with nothing changed and no run to resume, so the
 * recipe's "resumable" failure becomes exit 2 and its advice ends in running the join again, not `octoha resume`.
 */
async function freshChecks(base: Parameters<typeof joinChecks>[0], planFile: string): Promise<JoinChecks> {
  try {
    return await joinChecks(base);
  } catch (error) {
    if (!(error instanceof OctohaError) || error.exitCode !== ExitCode.Resumable) throw error;
    const advice = (error.hint ?? "").replace(/\n?Then run `octoha resume`\.?\s*$/, "");
    throw new OctohaError(`octoha join ${base.node}: ${error.message}; nothing was changed and no run was started`, {
      code: error.code,
      exitCode: ExitCode.BadInput,
      node: base.node,
      cause: error,
      hint: `${advice ? `${advice}\n` : ""}Once that is fixed, run the join again: octoha join ${base.node} --plan ${planFile}`,
    });
  }
}

/** An option's value in create-instance (its --config: the file the join checks look for; its --home). */
function createInstanceOption(commands: JoinCommand[], option: "--config" | "--home"): string {
  const argv = commands.find((c) => c.step === "create-instance")?.argv ?? [];
  const at = argv.indexOf(option);
  const value = at < 0 ? undefined : argv[at + 1];
  if (typeof value !== "string") throw new Error(`the create-instance command has no ${option}`);
  return value;
}

/**
 * WebSocket polling is served by a WebSocket listener (configure --commsListenWebSocket and an HTTPS certificate
 * binding on the node), not by the TCP port join configures. The reference names the option only, not its value
 * or the binding: octoha writes nothing it cannot ground, so the run is refused before anything changes.
 */
function webSocketRefusal(node: string, address: string, planFile: string): InputError {
  return new InputError(
    `${node}'s pollingAddress ${address} is WebSocket polling: octoha join does not set up a WebSocket listener; nothing was changed`,
    {
      code: "JOIN_POLLING_WEBSOCKET",
      node,
      path: planFile,
      hint:
        `A join would configure only --commsListenPort, and Tentacles told ${address} would find nothing listening. ` +
        `Join ${node} by hand (octoha join ${node} --plan ${planFile} --print) and add its WebSocket listener as Octopus's ` +
        `"Polling Tentacles over WebSockets" guide says (configure --commsListenWebSocket, plus the certificate binding; ` +
        `TLS must reach the node: "SSL offloading is not supported"), or give ${node} an https://<host>:10943 pollingAddress (TCP polling).`,
    },
  );
}

function requireVariable(env: NodeJS.ProcessEnv, name: string, what: string, flag: string): string {
  const value = env[name];
  if (value) return value;
  throw new InputError(`Environment variable ${name} (${what}) is not set; nothing was changed`, {
    code: "ENV_UNSET",
    hint: `Set ${name} in this shell before running octoha join (PowerShell: $env:${name} = "…"; sh: export ${name}=…), or name another variable with ${flag}. Secrets are never read from the plan or the command line.`,
  });
}

export async function createJoinWorkflow(env: WorkflowEnv, processEnv: NodeJS.ProcessEnv = process.env): Promise<Workflow> {
  const { plan } = env;
  const f = joinFlagsOf(env.flags, env.planFile);
  const { url, recipe, pollingAddress } = joiningNode(plan, f.joinNode, env.planFile);
  const polling = pollingPortFor(f.joinNode, pollingAddress, f.commsPort ? Number(f.commsPort) : undefined);
  if (polling.webSocket) throw webSocketRefusal(f.joinNode, polling.webSocket, env.planFile);
  const masterKeyEnv = f.masterKeyEnv ?? DEFAULT_MASTER_KEY_ENV;
  const connectionStringEnv = f.connectionStringEnv ?? plan.octopus.sql.connectionString.env;
  const masterKey = requireVariable(processEnv, masterKeyEnv, "the cluster's master key", "--master-key-env");
  const connectionString = requireVariable(
    processEnv,
    connectionStringEnv,
    "the connection string the new node uses",
    "--connection-string-env",
  );
  env.redactor.add(masterKey);
  env.redactor.add(connectionString);
  const secrets = resolveSecrets(plan, processEnv, env.redactor);
  const ports = createOctopusPorts(
    plan,
    { apiKey: secrets.apiKey ?? "", sqlConnectionString: secrets.sqlConnectionString ?? "" },
    { ...(env.signal ? { signal: env.signal } : {}), planFile: env.planFile },
  );
  const platform = f.platform ?? plan.octopus.platform;
  const serverExe = f.serverExe ?? (recipe.kind === "local" ? plan.octopus.serverExe : defaultServerExe(platform));
  const shell = nodeShell({
    node: f.joinNode,
    recipe,
    serverExe,
    tools: controlTools(plan),
    timeoutMs: plan.options.serviceCommandTimeoutSeconds * 1000,
    // Children get no secret by inheritance; the recipe hands over the two it needs, on purpose.
    secretEnv: [plan.octopus.apiKey.env, plan.octopus.sql.connectionString.env, masterKeyEnv, connectionStringEnv],
    secrets: { [masterKeyEnv]: masterKey, [connectionStringEnv]: connectionString },
  });
  const commands = joinCommands(plan, {
    node: f.joinNode,
    platform,
    instance: plan.octopus.instance,
    serverExe,
    ...(f.home ? { home: f.home } : {}),
    ...(f.config ? { config: f.config } : {}),
    listenPrefixes: [listenPrefixFor(url)],
    commsPort: polling.port,
    masterKeyEnv,
    connectionStringEnv,
  });
  const sharedFolders = [
    plan.shared.clusterShared,
    plan.shared.taskLogs,
    plan.shared.artifacts,
    plan.shared.packages,
    plan.shared.imports,
    plan.shared.eventExports,
  ].flatMap((l) => (l ? [l.octopus] : []));
  const close = () => ports.inventory.close();
  try {
    const base = {
      node: f.joinNode,
      instance: plan.octopus.instance,
      shell,
      ports,
      sharedFolders,
      instanceConfig: createInstanceOption(commands, "--config"),
      instanceHome: createInstanceOption(commands, "--home"),
      planFile: env.planFile,
      url,
    };
    if (env.mode === "resume") refuseReconfigured(env, f.joinNode, shell.shown(argsOf(commands.find((c) => c.step === "configure")!)));
    // An earlier join of this node left steps applied: its resume or rollback, not a new run (whose checks would blame them on someone else).
    if (!env.priorResult) {
      const open = await unfinishedJoinOf(env.stateDir, f.joinNode);
      if (open) throw unfinishedJoin(f.joinNode, open, env.planFile, env.stateDir);
    }
    // A fresh run refuses here, before the runner writes anything; a resumed run's step re-checks if it never finished.
    const checked = env.priorResult ? undefined : await freshChecks(base, env.planFile);
    if (checked && checked.problems.some((p) => p.code === "JOIN_NODE_NAME_TAKEN")) {
      const joinedBy = await finishedJoinOf(env.stateDir, f.joinNode);
      if (joinedBy) throw alreadyJoined(f.joinNode, joinedBy, env.planFile, url);
    }
    if (checked && checked.problems.length > 0) throw joinRefusal(f.joinNode, checked);
    const steps = buildJoinSteps({
      ...base,
      commands,
      clock: realClock,
      startTimeoutMs: plan.options.serviceStartTimeoutMinutes * 60_000,
      ...(checked ? { checked } : {}),
    });
    return { steps, close };
  } catch (error) {
    await close();
    throw error;
  }
}
