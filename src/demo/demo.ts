/**
 * `octoha demo`: the whole repair job against the local stand-in, start to finish, in under a minute.
 * A two-node cluster runs with the classic HA misconfiguration (every node writes C:\Octopus\TaskLogs
 * on its own disk), so task logs open through one node and not the other. The demo writes a plan for
 * it, shows the symptom, renders the dry-run, runs `repair` through the real runner, adapters, copy
 * engine and SQL inventory, and shows that every log now opens through every node.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { createRestPorts } from "../octopus/rest/index.js";
import type { ServerTasks } from "../octopus/types.js";
import type { PlanInput } from "../plan/schema.js";
import { runDryRun } from "../operations/dry-run.js";
import { renderDryRun } from "../report/render.js";
import type { RunOutcome } from "../model/run.js";
import { runWorkflow } from "../operations/apply.js";
import type { Redactor } from "../shared/redact.js";
import type { RunningStandin, StandinOptions } from "@octoha/standin";

export const DEMO_MARKER = ".octoha-demo";
const API_KEY_ENV = "OCTOHA_DEMO_API_KEY";
const SQL_ENV = "OCTOHA_DEMO_SQL_CONNECTION_STRING";

export interface DemoOptions {
  /** Everything the demo writes goes here (cluster data, plan, state, reports). */
  dir: string;
  nodes: number;
  /** Completed tasks per node in the synthetic history. */
  tasksPerNode: number;
  redactor: Redactor;
  /** Progress lines for a human; the caller decides where they go. */
  say(line: string): void;
  signal: AbortSignal;
  json: boolean;
  /** The stand-in's startStandin, loaded by the caller (the stand-in is an optional package: src/cli/load-standin.ts). */
  startStandin(options: StandinOptions): Promise<RunningStandin>;
}

export interface LogReadability {
  node: string;
  readable: number;
  total: number;
}

export interface DemoOutcome {
  dir: string;
  planFile: string;
  dryRunReport: string;
  dryRunHtml: string;
  before: LogReadability[];
  after: LogReadability[];
  run: RunOutcome;
  exitCode: number;
}

/** Refuses to wipe a folder that is not an earlier demo's: the operator may have pointed --dir at real data. */
async function prepareDir(dir: string): Promise<void> {
  if (existsSync(dir)) {
    if (!existsSync(path.join(dir, DEMO_MARKER))) {
      throw new Error(`${dir} exists and was not made by octoha demo; choose another --dir (the demo wipes its folder on every start)`);
    }
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, DEMO_MARKER), "made by `octoha demo`; safe to delete\n");
}

/** The plan an administrator would write for this cluster: node-local C:\ reached as this machine sees it. */
export function demoPlan(standin: RunningStandin, stateDir: string): PlanInput {
  const local = (node: string, kind: string) => path.join(standin.dataDir, "nodes", node, "C", "Octopus", kind);
  const shared = (kind: string) => ({ octopus: `\\\\fs01\\OctopusShared\\${kind}`, access: path.join(standin.dataDir, "shared", kind) });
  return {
    $schema: "https://octoha.invalid/plans/octoha.schema.json",
    version: 1,
    octopus: {
      serverUrl: standin.url,
      apiKey: { env: API_KEY_ENV },
      sql: { connectionString: { env: SQL_ENV } },
      serverExe: standin.serverExe,
      instance: "OctopusServer",
      platform: "windows",
    },
    nodes: standin.nodes.map((n) => ({
      name: n.name,
      url: n.url,
      folders: {
        taskLogs: { octopus: "C:\\Octopus\\TaskLogs", access: local(n.name, "TaskLogs") },
        artifacts: { octopus: "C:\\Octopus\\Artifacts", access: local(n.name, "Artifacts") },
        packages: { octopus: "C:\\Octopus\\Packages", access: local(n.name, "Packages") },
      },
      // Each simulated node is its own machine: its own Octopus.Server stops and starts it (the argv recipe;
      // a real cluster would use sc, winrm or ssh, as the README's "Using it on a real cluster" shows).
      control: {
        kind: "argv" as const,
        stop: [n.serverExe, "service", "--stop", "--instance=OctopusServer"],
        start: [n.serverExe, "service", "--start", "--instance=OctopusServer"],
      },
    })),
    shared: { taskLogs: shared("TaskLogs"), artifacts: shared("Artifacts"), packages: shared("Packages") },
    options: { stateDir, drainTimeoutMinutes: 2, logHandleWaitSeconds: 2, verifySampleSize: 20, approvals: "required" },
  };
}

/** The symptom from the Octopus docs: which completed tasks' logs open through each node. */
export async function logReadability(tasks: ServerTasks, taskIds: string[], nodeNames: string[]): Promise<LogReadability[]> {
  const out: LogReadability[] = [];
  for (const node of nodeNames) {
    let readable = 0;
    for (const id of taskIds) {
      try {
        await tasks.readRawLog(id, node);
        readable++;
      } catch {
        // Unreadable through this node: exactly what is being counted.
      }
    }
    out.push({ node, readable, total: taskIds.length });
  }
  return out;
}

export async function runDemo(o: DemoOptions): Promise<DemoOutcome> {
  const dir = path.resolve(o.dir);
  await prepareDir(dir);
  o.say(`Starting a simulated ${o.nodes}-node Octopus cluster in ${dir} (each node writes C:\\Octopus\\TaskLogs on its own disk) …`);
  const standin = await o.startStandin({
    dataDir: path.join(dir, "cluster"),
    nodes: o.nodes,
    seedTasks: o.tasksPerNode,
    taskDurationMs: 3_000,
  });
  try {
    process.env[API_KEY_ENV] = standin.apiKey;
    process.env[SQL_ENV] = standin.sqlConnectionString ?? "";
    o.redactor.add(standin.apiKey);
    o.redactor.add(standin.sqlConnectionString);
    const planFile = path.join(dir, "plan.json");
    await writeFile(planFile, `${JSON.stringify(demoPlan(standin, path.join(dir, "state")), null, 2)}\n`);
    o.say(`Plan written to ${planFile} (secrets are env references: ${API_KEY_ENV}, ${SQL_ENV}).`);

    const nodeNames = standin.nodes.map((n) => n.name);
    const completed = standin.cluster
      .tasks()
      .filter((t) => t.completedTime !== null)
      .map((t) => t.id);
    const rest = createRestPorts({
      serverUrl: standin.url,
      apiKey: standin.apiKey,
      nodeUrls: Object.fromEntries(standin.nodes.map((n) => [n.name, n.url])),
      attempts: 1,
    });
    const before = await logReadability(rest.tasks, completed, nodeNames);
    o.say(`Before: ${before.map((b) => `${b.node} opens ${b.readable} of ${b.total} task logs`).join("; ")}.`);

    // Two deployments still running: the drain waits for them, as it would at 2 a.m.
    standin.cluster.queueTask({ name: "Deploy", description: "Deploy Acme.Web 1.4.2 to Production", durationMs: 4_000 });
    standin.cluster.queueTask({ name: "Deploy", description: "Deploy Acme.Api 2.0.1 to Production", durationMs: 5_000 });

    o.say("Dry run (writes nothing) …");
    const md = await runDryRun({ planFile, workflow: "repair", format: "md", flags: {}, redactor: o.redactor, signal: o.signal });
    const dryRunReport = path.join(dir, "dry-run.md");
    const dryRunHtml = path.join(dir, "dry-run.html");
    await writeFile(dryRunReport, md.text);
    await writeFile(dryRunHtml, renderDryRun(md.report, "html", o.redactor));
    await writeFile(path.join(dir, "dry-run.json"), renderDryRun(md.report, "json", o.redactor));
    o.say(`Dry-run report: ${dryRunReport} and ${dryRunHtml}`);

    o.say("Repair: drain, maintenance mode, stop, repath, merge every node's folders into shared storage, verify, start, undrain …");
    const run = await runWorkflow({ workflow: "repair", planFile, flags: {}, approve: "yes", json: o.json, signal: o.signal });

    const after = await logReadability(rest.tasks, completed, nodeNames);
    o.say(`After: ${after.map((b) => `${b.node} opens ${b.readable} of ${b.total} task logs`).join("; ")}.`);
    const folders = standin.cluster.state().folders;
    o.say(`Octopus's folders are now ${folders.taskLogs}, ${folders.artifacts}, ${folders.packages}; journal: ${run.journal}`);
    const healed = after.every((a) => a.readable === a.total);
    return { dir, planFile, dryRunReport, dryRunHtml, before, after, run, exitCode: run.exitCode !== 0 ? run.exitCode : healed ? 0 : 1 };
  } finally {
    await standin.close();
  }
}
