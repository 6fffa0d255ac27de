/**
 * preflight: reads everything and changes nothing. Server version and the features it has, the
 * database schema (refuses one it does not recognise), plan nodes against Octopus's nodes, every
 * folder reachable, free space on the targets, env references set, SQL encryption. Apply fails
 * with every error-level finding at once, each with its fix.
 */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import type { Plan } from "../plan/schema.js";
import { databaseHaFindings } from "./database-ha.js";
import { nodesOnTargetFinding, restoreFindings } from "./database-move.js";
import { compareSnapshots, heartbeatingIntoTarget } from "../octopus/sql/restore-compare.js";
import {
  answeredByOtherNode,
  type DatabaseInventory,
  type NodePing,
  type NodeServices,
  type SchemaShape,
  type ServerNodes,
  type VersionProbe,
} from "../octopus/types.js";
import type { FolderKind } from "../model/folders.js";
import { featuresOf, type VersionFeatures } from "../octopus/versions.js";
import type { Step, StepContext } from "../runner/step.js";
import type { Finding } from "../model/preview.js";
import { OctohaError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import type { CopyEngine, TargetCheck } from "./deps.js";
import type { RunFacts } from "./facts.js";
import type { PreflightResult } from "./results.js";
import { kindsToMove, nodeSources, sharedFolder } from "./folders.js";
import { otherNodeFinding, serviceFindings } from "./service-findings.js";
import { shellWord } from "../shared/shell-word.js";

export interface PreflightDeps {
  plan: Plan;
  /** services: each node's recipe status, read in inspect only (`check`, dry-run). */
  ports: {
    version: VersionProbe;
    inventory: DatabaseInventory;
    nodes: ServerNodes;
    services?: NodeServices;
    targetDatabase?: DatabaseInventory;
  };
  engine: CopyEngine;
  facts: RunFacts;
  /** The environment env references are read from. */
  env: Record<string, string | undefined>;
  /**
   * Each plan node with a URL must answer its ping: an error finding names one that does not, so the
   * run stops here with nothing changed. `octoha check`, and migrate and repair (their dry-run too):
   * they stop and start only the nodes that were running, and verify-octopus reads through every one.
   */
  pingNodes?: boolean;
  /** The plan file the operator gave, for commands a finding's fix shows (`octoha join NODE --plan "PLAN FILE"`). */
  planFile?: string;
  /** Whether this process can read a node folder: "ok", "missing", or the error code (default: fs.access). */
  probeSource?: (accessPath: string) => Promise<string>;
}

const readable = async (p: string): Promise<string> =>
  access(p, constants.R_OK).then(
    () => "ok",
    (error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? "missing" : (error.code ?? "unreadable")),
  );

const unsetEnv = (ref: string, what: string): Finding => ({
  severity: "error",
  code: "ENV_UNSET",
  summary: `Environment variable ${ref} (${what}) is not set`,
  fix: `Set ${ref} in the environment of this shell before running octoha; secrets are never read from the plan or the command line.`,
});

async function examine(deps: PreflightDeps, dryRun: boolean): Promise<PreflightResult> {
  const { plan, ports, engine } = deps;
  const findings: Finding[] = [];
  const probeSource = deps.probeSource ?? readable;

  // The API key falls back to OCTOPUS_API_KEY, as the Octopus CLI does.
  const apiKeyRef = plan.octopus.apiKey.env;
  if (!deps.env[apiKeyRef] && !deps.env["OCTOPUS_API_KEY"]) findings.push(unsetEnv(apiKeyRef, "API key"));
  const sqlRef = plan.octopus.sql.connectionString.env;
  if (!deps.env[sqlRef]) findings.push(unsetEnv(sqlRef, "SQL connection string"));

  let version: string;
  try {
    version = await ports.version.serverVersion();
  } catch (error) {
    // Inspect (check, dry-run) reports it so one pass names every problem (SQL, folders); apply
    // rethrows so the runner's retry policy applies to a transient failure.
    if (!dryRun) throw error;
    findings.push(octopusUnreachable(error, plan.octopus.serverUrl, "the version request"));
    version = "unknown";
  }
  // An unknown version: check every folder the plan names (the newest version has every kind).
  const features = featuresOf(version === "unknown" ? UNKNOWN_VERSION_AS : version);
  const kinds = kindsToMove(plan, features);
  if (features.duplicateExecutionBug)
    findings.push({
      severity: "warning",
      code: "VERSION_DUPLICATE_EXECUTION",
      summary: `Octopus ${version} can run one task on several nodes at once (2023.3 before .13026)`,
      fix: "Upgrade to 2023.3.13026 or later before running HA.",
    });
  for (const [kind, has] of [
    ["imports", features.imports],
    ["eventExports", features.eventExports],
  ] as const) {
    if (plan.shared[kind] && !has)
      findings.push({
        severity: "warning",
        code: "KIND_NOT_IN_VERSION",
        summary: `Octopus ${version} has no ${kind} folder; shared.${kind} is ignored`,
        fix: `Remove shared.${kind} from the plan, or upgrade Octopus first.`,
      });
  }
  if (plan.shared.clusterShared && !features.clusterShared)
    findings.push({
      severity: "warning",
      code: "KIND_NOT_IN_VERSION",
      summary: `Octopus ${version} has no path --clusterShared (2020.2.15+); shared.clusterShared is ignored`,
      fix: "Remove shared.clusterShared from the plan.",
    });

  let schema: SchemaShape | undefined;
  let sqlReached = true;
  try {
    schema = await ports.inventory.probe();
    findings.push({
      severity: "info",
      code: "SCHEMA_RECOGNISED",
      summary: `Octopus database schema recognised (ServerTask.${schema.taskNodeColumn}, ${schema.nodeTable})`,
    });
    if (!schema.hasNuGetPackage)
      findings.push({
        severity: "warning",
        code: "SCHEMA_NO_NUGETPACKAGE",
        summary: "The database has no NuGetPackage table: built-in feed packages cannot be checked against the index",
        fix: "Check that the plan's SQL connection points at the Octopus database.",
      });
  } catch (error) {
    if ((error as { code?: unknown }).code === "INTERRUPTED") throw error;
    const finding = probeFailure(error);
    sqlReached = finding.code === "SCHEMA_UNKNOWN";
    findings.push(finding);
  }

  // A failed login or an unreachable server is reported once, by the probe, not again here.
  const sqlEncrypted = sqlReached ? await connectionEncryption(ports.inventory, findings) : undefined;
  if (sqlEncrypted !== undefined && ports.inventory.databaseHa) findings.push(...databaseHaFindings(await ports.inventory.databaseHa()));
  if (sqlEncrypted !== undefined && ports.targetDatabase)
    findings.push(
      ...(await moveFindings(ports.inventory, ports.targetDatabase, {
        nodes: plan.nodes.map((n) => n.name),
        sqlVariable: plan.octopus.sql.connectionString.env,
      })),
    );

  // The API root answers without a key: the node list is what proves the key is accepted.
  let apiOk = version !== "unknown";
  let known: Awaited<ReturnType<ServerNodes["list"]>> = [];
  if (apiOk) {
    try {
      known = await ports.nodes.list();
      findings.push({
        severity: "info",
        code: "OCTOPUS_REACHABLE",
        summary: `Octopus ${version} at ${plan.octopus.serverUrl} accepts the API key (${known.length} node${known.length === 1 ? "" : "s"})`,
      });
    } catch (error) {
      if (!dryRun) throw error;
      findings.push(octopusUnreachable(error, plan.octopus.serverUrl, "the node list"));
      apiOk = false;
    }
  }
  const knownNames = new Set(known.map((n) => n.name.toLowerCase()));
  const planNames = new Set(plan.nodes.map((n) => n.name.toLowerCase()));
  for (const n of apiOk ? plan.nodes : []) {
    if (!knownNames.has(n.name.toLowerCase()))
      findings.push({
        severity: "error",
        code: "NODE_UNKNOWN",
        node: n.name,
        summary: `Node ${n.name} is in the plan but Octopus has no node with that name`,
        fix: `Use the names shown in Configuration ➜ Nodes: ${known.map((k) => k.name).join(", ")}; a node still to be added joins with ${deps.planFile ? `\`octoha join ${n.name} --plan ${shellWord(deps.planFile)}\`` : `\`octoha join ${n.name}\` and --plan naming the plan file`}.`,
      });
  }
  for (const n of known) {
    if (!planNames.has(n.name.toLowerCase()))
      findings.push({
        severity: "warning",
        code: "NODE_NOT_IN_PLAN",
        node: n.name,
        summary: `Octopus node ${n.name} is not in the plan: its service is not stopped or started, and its local folders are not copied`,
        fix: "Add it to plan.nodes, or delete it in Configuration ➜ Nodes if it is retired.",
      });
  }

  // Every run pings before it changes anything, at least for a node's URL that another node answers
  // (its stop, start and task-log reads would be about the wrong node). With pingNodes a node that
  // does not answer is an error too: a run that went on would end with maintenance mode on, every node
  // drained and that node's reads failing.
  if ((deps.pingNodes || !dryRun) && apiOk) {
    for (const n of plan.nodes.filter((x) => x.url)) {
      let answer: NodePing;
      try {
        answer = await ports.nodes.ping(n.name);
      } catch (error) {
        if (!answeredByOtherNode(error)) throw error;
        findings.push(otherNodeFinding(n.name, error));
        continue;
      }
      if (!deps.pingNodes) continue;
      if (answer === "offline")
        findings.push({
          severity: "error",
          code: "NODE_NO_PING",
          node: n.name,
          summary: `Node ${n.name} does not answer at ${n.url}/api/octopusservernodes/ping`,
          fix: `Start ${n.name}'s Octopus service if it is stopped (a migrate or repair starts only the nodes it stopped, and reads task logs through every plan node). One that has just started answers 503 for a while: wait until it answers, then run again. If it runs, check ${n.url} is reachable from this machine (firewall, binding, certificate) or correct nodes[].url in the plan. If ${n.name} is retired, remove it from plan.nodes and delete it in Configuration ➜ Nodes.`,
        });
      else
        findings.push({
          severity: "info",
          code: "NODE_PING",
          node: n.name,
          summary: `Node ${n.name} answers its ping at ${n.url}${answer === "draining" ? " (draining)" : ""}`,
        });
    }
  }

  if (dryRun && ports.services) {
    // A node's URL that another node answers is found by both pings: said once.
    const said = new Set(findings.filter((f) => f.code === "NODE_URL_OTHER_NODE").map((f) => f.node));
    findings.push(
      ...(
        await serviceFindings(
          ports.services,
          plan.nodes.map((n) => n.name),
        )
      ).filter((f) => !(f.code === "NODE_URL_OTHER_NODE" && said.has(f.node))),
    );
  }

  const bytesToCopy = new Map<FolderKind, number>();
  for (const kind of kinds) {
    for (const src of nodeSources(plan, kind)) {
      const reach = await probeSource(src.access);
      if (reach === "missing")
        findings.push({
          severity: "warning",
          code: "SOURCE_MISSING",
          node: src.node,
          path: src.access,
          summary: `${kind} folder of ${src.node} does not exist: ${src.access}`,
          // It said "nothing is copied from it"; the copy stops on a missing source instead.
          detail:
            "A run stops at its first copy of it (after the shared folders are made): a missing folder is not taken for an empty one, since a path mistyped in the plan looks the same.",
          fix: `If ${src.node} writes its ${kind} elsewhere, correct this access path in the plan (a UNC path or a mount of that node's disk). If ${src.node} never wrote any, create the folder empty.`,
        });
      else if (reach === "ok" && dryRun && engine.sourceTotals)
        bytesToCopy.set(kind, (bytesToCopy.get(kind) ?? 0) + (await engine.sourceTotals({ source: src.access })).bytes);
      else if (reach !== "ok")
        findings.push({
          severity: "error",
          code: "SOURCE_UNREACHABLE",
          node: src.node,
          path: src.access,
          summary: `${kind} folder of ${src.node} cannot be read from here: ${src.access} (${reach})`,
          detail: "Its files would be neither copied nor counted, and Octopus would be repointed away from them.",
          fix: "Give the account running octoha read access to that folder (share and NTFS permissions).",
        });
    }
  }

  const targets: PreflightResult["targets"] = [];
  for (const kind of [...kinds, ...(features.clusterShared && plan.shared.clusterShared ? (["clusterShared"] as const) : [])]) {
    const folder = sharedFolder(plan, kind)!;
    const check = await engine.preflightTarget({ target: folder.access, dryRun });
    targets.push({ kind, access: folder.access, check });
    if (check.problem)
      findings.push({
        severity: "error",
        code: "TARGET_UNUSABLE",
        path: folder.access,
        summary: `Shared ${kind} folder ${folder.access}: ${check.problem}`,
        fix: "Give the account running octoha and every node's Octopus service account full control on the share and its NTFS ACLs.",
      });
    else if (check.writable === false)
      findings.push({
        severity: "error",
        code: "TARGET_NOT_WRITABLE",
        path: folder.access,
        summary: `Cannot write to shared ${kind} folder ${folder.access}`,
        fix: "Grant full control (share and NTFS) to this account and to every node's Octopus service account.",
      });
    const needed = kind === "clusterShared" ? undefined : bytesToCopy.get(kind);
    if (needed !== undefined && check.freeBytes !== undefined && check.freeBytes >= needed)
      findings.push({
        severity: "info",
        code: "TARGET_SPACE",
        path: folder.access,
        summary: `Shared ${kind} folder ${folder.access}: ${check.freeBytes} bytes free for at most ${needed} bytes from the nodes`,
      });
    else if (needed !== undefined && check.freeBytes !== undefined) {
      // The node folders' total is an upper bound: files already at the target (a preseed) need no room.
      findings.push({
        severity: check.exists ? "warning" : "error",
        code: "TARGET_SPACE",
        path: folder.access,
        summary: `Shared ${kind} folder ${folder.access}: ${check.freeBytes} bytes free, the node folders hold ${needed} bytes`,
        fix: check.exists
          ? "Files already in the shared folder are not copied again; if most are not there yet, grow the share before the window."
          : "Grow the share (or free space on it) before the window.",
      });
    }
  }
  const nodes = apiOk ? known.map(({ name, isDraining, maxConcurrentTasks }) => ({ name, isDraining, maxConcurrentTasks })) : undefined;
  return { version, features, schema, kinds, sqlEncrypted, targets, findings, ...(nodes ? { nodes } : {}) };
}

/** Whether the SQL connection is encrypted, as a finding; undefined when it cannot be told. */
async function connectionEncryption(inventory: DatabaseInventory, findings: Finding[]): Promise<boolean | undefined> {
  try {
    const info = await inventory.connectionInfo();
    findings.push(
      info.encrypted
        ? { severity: "info", code: "SQL_ENCRYPTED", summary: `SQL connection to ${info.server}/${info.database} is encrypted` }
        : {
            severity: "warning",
            code: "SQL_NOT_ENCRYPTED",
            summary: `SQL connection to ${info.server}/${info.database} is not encrypted`,
            fix: "Add Encrypt=True to the connection string (and trust the server certificate).",
          },
    );
    return info.encrypted;
  } catch (error) {
    if ((error as { code?: unknown }).code === "INTERRUPTED") throw error;
    findings.push({
      severity: "error",
      code: "SQL_UNREACHABLE",
      summary: `Cannot connect to the Octopus database: ${(error as Error).message}`,
      fix: "Check the SQL connection string environment variable, the server name and the firewall.",
    });
    return undefined;
  }
}

/**
 * A schema octoha does not know is one finding; a connection that failed before any schema was
 * read (wrong password, no such database, server unreachable) is another, with its own fix: a
 * login failure is not a reason to "report the Octopus version".
 */
function probeFailure(error: unknown): Finding {
  const e = error instanceof OctohaError ? error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (e?.code === "SCHEMA_UNRECOGNISED" || e?.code === "SCHEMA_UNKNOWN") {
    return {
      severity: "error",
      code: "SCHEMA_UNKNOWN",
      summary: `The Octopus database schema was not recognised: ${message}`,
      detail: "octoha reads the database to prove completeness and refuses to act on a schema it does not know.",
      fix: "Check the SQL connection string points at the Octopus database; if it does, report the Octopus version so support can be added.",
    };
  }
  return {
    severity: "error",
    code: e?.code ?? "SQL_UNREACHABLE",
    summary: `Cannot read the Octopus database: ${message}`,
    fix: e?.hint ?? "Check the SQL connection string environment variable, the server name and the firewall.",
  };
}

/** Stands in for an unreachable server's version so every folder the plan names is checked. */
const UNKNOWN_VERSION_AS = "9999.1";

function octopusUnreachable(error: unknown, serverUrl: string, what: string): Finding {
  const e = error instanceof OctohaError ? error : undefined;
  const status = (error as { status?: number }).status;
  return {
    severity: "error",
    code: status === 401 || status === 403 ? "OCTOPUS_AUTH" : "OCTOPUS_UNREACHABLE",
    summary: `Octopus at ${serverUrl} refused or did not answer ${what}${status ? ` (HTTP ${status})` : ""}: ${error instanceof Error ? error.message : String(error)}`,
    fix: e?.hint ?? "Check octopus.serverUrl, the network path to it, and the API key's environment variable.",
  };
}

export function createPreflightStep(deps: PreflightDeps): Step<PreflightResult, "preflight"> {
  return {
    id: "preflight",
    title: "Preflight: version, schema, nodes, folders, free space, secrets",
    readOnly: true,
    async inspect() {
      const r = await examine(deps, true);
      const facts = {
        version: r.version,
        kinds: r.kinds,
        features: r.features,
        sqlEncrypted: r.sqlEncrypted,
        targets: r.targets,
        nodes: r.nodes,
      };
      return { changes: [], findings: r.findings, facts };
    },
    async apply(ctx: StepContext) {
      const r = await examine(deps, false);
      await ctx.checkpoint(r);
      const errors = r.findings.filter((f) => f.severity === "error");
      if (errors.length > 0) {
        throw new OctohaError(`Preflight found ${errors.length} problem${errors.length === 1 ? "" : "s"}; nothing was changed`, {
          code: "PREFLIGHT_FAILED",
          // A restore that is not of this database is bad input (the plan names the wrong target), like a bad plan.
          ...(errors.every((f) => f.code.startsWith("DB_MOVE_")) ? { exitCode: ExitCode.BadInput } : {}),
          step: "preflight",
          hint: errors.map((f) => `${f.summary}${f.fix ? `\n  fix: ${f.fix}` : ""}`).join("\n"),
        });
      }
      deps.facts.set("preflight", r);
      return r;
    },
    async verify(_ctx, r) {
      const errors = r.findings.filter((f) => f.severity === "error");
      return {
        ok: errors.length === 0,
        summary: errors.length === 0 ? `Octopus ${r.version}: ready` : `${errors.length} preflight error(s)`,
        problems: errors.map((f) => f.summary),
      };
    },
    async rollback() {
      // Preflight changes nothing.
    },
  };
}

/**
 * database.moveTo compared with the current database while Octopus runs: a missing table, another schema
 * version or installation are errors (a stop does not change them); row counts are compared for real after
 * the stop. A target not restored yet is a warning: repoint-database compares it then.
 */
async function moveFindings(
  current: DatabaseInventory,
  target: DatabaseInventory,
  plan: { nodes: string[]; sqlVariable: string },
): Promise<Finding[]> {
  if (!current.snapshot || !target.snapshot) return [];
  try {
    const findings = restoreFindings(compareSnapshots(await current.snapshot(), await target.snapshot()), true);
    // Read-only proof of a finished move (or a node started on the target): its latest heartbeat is there.
    const beats = { current: await heartbeatsOf(current), target: await heartbeatsOf(target) };
    if (beats.current && beats.target) {
      const { onTarget, onCurrent } = heartbeatingIntoTarget(beats.current, beats.target, plan.nodes);
      if (onTarget.length > 0)
        findings.unshift(nodesOnTargetFinding({ current: beats.current, target: beats.target }, onTarget, onCurrent, plan.sqlVariable));
    }
    return findings;
  } catch (error) {
    if ((error as { code?: unknown }).code === "INTERRUPTED") throw error;
    return [
      {
        severity: "warning",
        code: "DB_MOVE_TARGET_UNREADABLE",
        summary: `database.moveTo's database cannot be read yet: ${(error as Error).message}`,
        fix: "Restore it before repoint-database runs (in the window, after stop-services); it is compared then, and the run stops if it differs.",
      },
    ];
  }
}

/** A database's heartbeats, or undefined when they cannot be read (another schema, a permission): then no proof either way. */
async function heartbeatsOf(db: DatabaseInventory): Promise<Record<string, string> | undefined> {
  try {
    return (await db.heartbeats?.()) ?? undefined;
  } catch (error) {
    if ((error as { code?: unknown }).code === "INTERRUPTED") throw error;
    return undefined;
  }
}
