/**
 * database.moveTo end to end (issue 13): the stand-in holds a second database, the DBA's restore onto an
 * HA server (faithful, one row short, an older schema, another installation); each node keeps its own
 * connection string, set by its own Octopus.Server look-alike through the plan's argv recipe, and a started
 * node heartbeats into the database it names. octoha runs as the operator runs it.
 */
import { execFile, spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { createInventory } from "../../src/octopus/sql/inventory.js";
import { CLI, cleanEnv } from "../helpers/cli.js";
import { expectStoppedAtPlannedPoint, octohaInProcess, type E2eCase } from "./crash-harness.js";
import { scenarios, startScenario, until, type Scenario, type ScenarioOptions } from "./harness.js";

const run = promisify(execFile);
const scenario = scenarios();
const KILL_FIXTURE = path.join(import.meta.dirname, "fixtures", "kill-on-event.mjs");
const MOVE_ENV = "OCTOHA_NEW_SQL_CONNECTION_STRING";
const STARTUP_MS = 300;

type Variant = "faithful" | "table-short" | "older-schema" | "other-installation";

interface Move {
  s: Scenario;
  old: string;
  target: Awaited<ReturnType<Scenario["standin"]["restoreDatabase"]>>;
  /** octoha VERB PLAN --yes --json with database.moveTo's variable set. */
  cli(verb: string, ...args: string[]): ReturnType<Scenario["cli"]>;
}

/** A two-node cluster, a restore of its database, and a plan moving every node onto it (argv recipes with serverExe). */
async function moveScenario(
  variant: Variant,
  workflow: "migrate" | "repair" = "repair",
  start: (o: ScenarioOptions) => Promise<Scenario> = scenario,
  o: { nodes?: number; standin?: ScenarioOptions["standin"] } = {},
): Promise<Move> {
  // Nodes still answer 503 for a while after they start, just not for the stand-in's 2 s.
  const s = await start({
    standin: { startupMs: STARTUP_MS, ...(workflow === "migrate" ? { nodes: o.nodes ?? 1, seedTasks: 4 } : {}), ...o.standin },
  });
  // A repair of a cluster whose database already names the shared folders: repath writes nothing, so a
  // rollback after start-services is not refused by repath (the nodes ran on the folders they had before).
  // A migrate starts on each node's own folders, and its repath writes the shared ones into the new database.
  if (workflow === "repair") {
    const shared = (k: "taskLogs" | "artifacts" | "packages") => s.plan.shared[k].octopus;
    s.standin.cluster.setFolders({ taskLogs: shared("taskLogs"), artifacts: shared("artifacts"), packages: shared("packages") });
  }
  const target = await s.standin.restoreDatabase({ name: "OctopusHA", variant, multiSubnetFailover: true });
  s.plan.nodes = s.plan.nodes.map((n) => {
    const control = n.control?.kind === "argv" ? n.control : undefined;
    if (!control) throw new Error("the demo plan reaches each node with argv");
    return { ...n, control: { ...control, serverExe: [control.stop[0]!] } };
  });
  s.plan.database = { moveTo: { env: MOVE_ENV } };
  await writeFile(s.planFile, `${JSON.stringify(s.plan, null, 2)}\n`);
  return {
    s,
    old: s.standin.sqlConnectionString!,
    target,
    cli: (verb, ...args) => s.cliWithEnv({ [MOVE_ENV]: target.connectionString }, verb, s.planFile, ...args),
  };
}

/** The connection string each node's own config names, as `show-configuration` on that node prints it. */
async function nodeConnectionStrings(m: Move): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of m.s.plan.nodes) {
    const exe = (n.control as { stop: string[] }).stop[0]!;
    const { stdout } = await run(exe, ["show-configuration", "--format=json"]);
    const json = JSON.parse(stdout.slice(stdout.indexOf("{"))) as Record<string, string>;
    out[n.name] = json["Octopus.Storage.ExternalDatabaseConnectionString"]!;
  }
  return out;
}

const apiStatus = async (m: Move, taskId: string) =>
  (await fetch(`${m.s.standin.url}/api/tasks/${taskId}`, { headers: { "X-Octopus-ApiKey": m.s.standin.apiKey } })).status;
/** ServerTask ids in a database, read with octoha's own read-only inventory. */
async function taskIds(connectionString: string): Promise<string[]> {
  const inventory = createInventory(connectionString);
  try {
    const ids: string[] = [];
    for await (const t of inventory.tasks()) ids.push(t.id);
    return ids;
  } finally {
    await inventory.close();
  }
}
const onEveryNode = (m: Move, cs: string) => Object.fromEntries(m.s.plan.nodes.map((n) => [n.name, cs]));
const live = (m: Move) => m.s.standin.databases().find((d) => d.live)?.name;

/** Every file under the state directory (journal, manifests, reports). */
function stateFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Neither connection string nor either password anywhere octoha wrote or printed. */
function expectNoSecret(m: Move, outputs: string[]): void {
  const password = (cs: string) => /Password=([^;]+)/i.exec(cs)![1]!;
  const secrets = [m.old, m.target.connectionString, password(m.old), password(m.target.connectionString)];
  const files = stateFiles(m.s.stateDir);
  expect(files.some((f) => f.endsWith("journal.jsonl"))).toBe(true);
  for (const [where, text] of [
    ...outputs.map((t, i) => [`output ${i}`, t] as const),
    ...files.map((f) => [f, readFileSync(f, "utf8")] as const),
  ])
    for (const secret of secrets) expect(text.includes(secret), `${where} holds a secret`).toBe(false);
}

describe("moving every node onto a restored database (database.moveTo)", () => {
  it("a migrate onto a faithful restore ends with every node on the new database, the API serving it, and no secret anywhere", async () => {
    const m = await moveScenario("faithful", "migrate");
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));
    const dry = await m.cli("dry-run", "--format", "md");
    expect(dry.stdout).toContain("repoint-database");
    expect(dry.stdout).toMatch(/restore checks match/);

    const r = await m.cli("run", "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.target.connectionString));
    expect(live(m)).toBe("OctopusHA");
    // The API serves the new database: a task queued now is in its SQL, not in the old one's.
    const task = m.s.standin.cluster.queueTask({ requestedBy: "administrator" });
    expect(await apiStatus(m, task.id)).toBe(200);
    expect(await taskIds(m.target.connectionString)).toContain(task.id);
    expect(await taskIds(m.old)).not.toContain(task.id);
    const report = await m.s.runReport(r.outcome);
    expect(report.databaseMove?.checks.every((c) => c.passed)).toBe(true);
    expect(report.databaseMove?.checks.map((c) => c.check)).toEqual(
      expect.arrayContaining(["schema version", "installation identity", "rows in ServerTask"]),
    );
    expect(report.databaseMove?.proven).toEqual(["OCTO1"]);
    expect(m.s.standin.cluster.state().folders.taskLogs).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
    expectNoSecret(m, [dry.stdout, dry.stderr, r.stdout, r.stderr]);
  });

  it("a two-node migrate writes the shared folders into the new database only: the nodes read logs through each other, the old database keeps its folders", async () => {
    const m = await moveScenario("faithful", "migrate", scenario, { nodes: 2 });
    const local = m.s.standin.cluster.state().folders;
    const r = await m.cli("run", "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"stepId":"verify-octopus","verdict":\{"ok":true/);
    const shared = {
      taskLogs: m.s.plan.shared.taskLogs.octopus,
      artifacts: m.s.plan.shared.artifacts.octopus,
      packages: m.s.plan.shared.packages.octopus,
    };
    expect(m.s.standin.cluster.databaseState("OctopusHA").folders).toEqual(shared);
    expect(m.s.standin.cluster.databaseState("Octopus").folders).toEqual(local);
    expect(m.s.standin.cluster.nodes().map((n) => n.effectiveFolders)).toEqual([shared, shared]);
    // Its rollback refuses honestly (the nodes ran on the shared folders of the new database) and changes
    // nothing: it does not put the nodes back on an old database that would send them to the shared folders.
    const back = await m.cli("rollback", "--yes", "--json");
    expect(back.code, back.stderr).toBe(1);
    expect(back.stdout + back.stderr).toMatch(/node\(s\) OCTO1, OCTO2 started on the new folders/);
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.target.connectionString));
    expect(m.s.standin.cluster.databaseState("Octopus").folders).toEqual(local);
    expect(m.s.standin.cluster.databaseState("OctopusHA").folders).toEqual(shared);
  });

  it("a migrate rolled back after repath leaves the folders of both databases as they were", async () => {
    const m = await moveScenario("faithful", "migrate", scenario, { nodes: 2 });
    const local = m.s.standin.cluster.state().folders;
    const c = await inProcessCase(m);
    try {
      const killed = await octohaInProcess(c, "run", { killOn: { type: "step-applied", stepId: "repath" } });
      await expectStoppedAtPlannedPoint(killed, "migrate with a database move killed after repath");
      // repath wrote into the database the nodes now name, not into the one they left.
      expect(m.s.standin.cluster.databaseState("OctopusHA").folders.taskLogs).toBe(m.s.plan.shared.taskLogs.octopus);
      expect(m.s.standin.cluster.databaseState("Octopus").folders).toEqual(local);
      const back = await octohaInProcess(c, "rollback");
      expect(back.code, back.stderr).toBe(4);
      expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));
      expect(live(m)).toBe("Octopus");
      expect(m.s.standin.cluster.databaseState("Octopus").folders).toEqual(local);
      expect(m.s.standin.cluster.databaseState("OctopusHA").folders).toEqual(local);
      expect(m.s.standin.cluster.nodes().map((n) => [n.name, n.running, n.effectiveFolders])).toEqual([
        ["OCTO1", true, local],
        ["OCTO2", true, local],
      ]);
    } finally {
      c.done();
    }
  });

  it("rolled back after the move, every node names the old database again and the API serves it", async () => {
    const m = await moveScenario("faithful");
    const r = await m.cli("repair", "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.target.connectionString));
    const onNew = m.s.standin.cluster.queueTask({ requestedBy: "administrator" });
    expect(await apiStatus(m, onNew.id)).toBe(200);
    const back = await m.cli("rollback", "--yes", "--json");
    expect(back.code, back.stderr).toBe(4);
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));
    expect(live(m)).toBe("Octopus");
    // The API serves the old database again: the task written into the new one is not there.
    expect(await apiStatus(m, onNew.id)).toBe(404);
    expect(m.s.standin.cluster.state().nodes.map((n) => [n.name, n.running])).toEqual([
      ["OCTO1", true],
      ["OCTO2", true],
    ]);
    expectNoSecret(m, [r.stdout, r.stderr, back.stdout, back.stderr]);
  });

  it("after a finished move, check, dry-run and a repair refuse (exit 2, nothing changed) as a finished move and never advise restoring the old database over the live one", async () => {
    const m = await moveScenario("faithful");
    const done = await m.cli("repair", "--yes");
    expect(done.code, done.stderr).toBe(0);
    // The run's last words: point the plan at the new database and drop moveTo.
    expect(done.stdout).toContain(
      `set ${m.s.plan.octopus.sql.connectionString.env} (octopus.sql.connectionString) to the new database's connection string`,
    );
    expect(done.stdout).toContain("remove database.moveTo from the plan");
    const report = readFileSync(path.join(path.dirname(done.stdout.match(/Journal: (.+)/)![1]!), "report.md"), "utf8");
    expect(report).toContain("remove database.moveTo");
    // Production writes into the new database.
    const task = m.s.standin.cluster.queueTask({ requestedBy: "administrator" });
    expect(await taskIds(m.target.connectionString)).toContain(task.id);
    const before = m.s.standin.cluster.state();

    for (const verb of ["check", "dry-run"]) {
      const r = await m.cli(verb);
      const text = r.stdout + r.stderr;
      expect(r.code, text).toBe(2);
      expect(text).toContain("the nodes already run on database.moveTo's database (a finished move)");
      expect(text).toContain("remove database.moveTo");
      expect(text).toMatch(/target ServerTasks \d+ \(the target is ahead/);
      expect(text).not.toMatch(/backup taken before the last|Restore onto the target/);
    }
    const again = await m.cli("repair", "--yes");
    const text = again.stdout + again.stderr;
    expect(again.code, text).toBe(2);
    expect(text).toContain("already run on database.moveTo's database (a finished move)");
    expect(text).not.toMatch(/backup taken before the last|Restore onto the target/);
    const after = m.s.standin.cluster.state();
    expect(after.isInMaintenanceMode).toBe(before.isInMaintenanceMode);
    expect(after.nodes.map((n) => [n.name, n.running, n.isDraining])).toEqual(before.nodes.map((n) => [n.name, n.running, n.isDraining]));
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.target.connectionString));
    expect(live(m)).toBe("OctopusHA");
  });

  it.each([
    ["older-schema", "DB_MOVE_SCHEMA_VERSION", /schema version differs/],
    ["other-installation", "DB_MOVE_IDENTITY", /installation differs/],
  ] as const)("a restore with %s is refused by the preflight with exit 2: nothing changed, the fix named", async (variant, _code, why) => {
    const m = await moveScenario(variant);
    const before = m.s.standin.cluster.state();
    const r = await m.cli("repair", "--yes", "--json");
    expect(r.code, r.stderr).toBe(2);
    const text = r.stdout + r.stderr;
    expect(text).toContain("PREFLIGHT_FAILED");
    expect(text).toMatch(why);
    // Nothing was done, so no run to resume or roll back: restore a matching backup, then check and run again.
    expect(text).toContain("Restore onto the target a backup of the current database (this installation, at its schema version)");
    expect(text).toContain("Nothing was changed. Once the cause is corrected, run the same command again");
    expect(text).not.toContain("octoha resume");
    expect(text).not.toContain("octoha rollback");
    const human = await m.cli("repair", "--yes");
    expect(human.code, human.stderr).toBe(2);
    expect(human.stdout + human.stderr).not.toMatch(/To continue, run|octoha resume/);
    const check = await m.cli("check");
    expect(check.stdout + check.stderr).toMatch(why);
    expect(check.stdout + check.stderr).toContain("then run `octoha check` and start the run again");
    expect(check.stdout + check.stderr).not.toMatch(/octoha resume|octoha rollback/);
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));
    const after = m.s.standin.cluster.state();
    expect(after.isInMaintenanceMode).toBe(before.isInMaintenanceMode);
    expect(after.nodes.map((n) => [n.name, n.running, n.isDraining])).toEqual(before.nodes.map((n) => [n.name, n.running, n.isDraining]));
    expect(live(m)).toBe("Octopus");
  });

  it("another installation's database restored the instant the stand-in started is refused all the same (exit 2)", async () => {
    // A manual clock: the restore is stamped at the very instant of the cluster's own install, as a
    // `octoha standin --restore-database NAME:other-installation` is.
    const m = await moveScenario("other-installation", "repair", scenario, { standin: { clock: "manual" } });
    const check = await m.cli("check");
    expect(check.code, check.stdout + check.stderr).toBe(2);
    expect(check.stdout + check.stderr).toMatch(/error: database\.moveTo: installation differs/);
    const r = await m.cli("repair", "--yes", "--json");
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/installation differs/);
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));
    expect(m.s.standin.cluster.state().nodes.every((n) => n.running && !n.isDraining)).toBe(true);
  });

  it.each([
    ["localhost for 127.0.0.1", (cs: string) => cs.replace("Server=127.0.0.1,", "Server=localhost,")],
    ["a space after the comma", (cs: string) => cs.replace(/Server=127\.0\.0\.1,(\d+)/, "Server=127.0.0.1, $1")],
  ])(
    "the nodes' own database under another spelling (%s) is refused by check, dry-run and run with exit 2, naming both, nothing changed",
    async (_what, respell) => {
      const m = await moveScenario("faithful");
      const before = m.s.standin.cluster.state();
      const same = respell(m.old);
      expect(same).not.toBe(m.old);
      const cli = (verb: string, ...args: string[]) => m.s.cliWithEnv({ [MOVE_ENV]: same }, verb, m.s.planFile, ...args);
      const spelled = (cs: string) => /Server=[^;]*;Database=[^;]*/.exec(cs)![0];
      for (const [verb, ...args] of [["check"], ["dry-run"], ["repair", "--yes"]] as const) {
        const r = await cli(verb, ...args);
        const text = r.stdout + r.stderr;
        expect(r.code, `${verb}: ${text}`).toBe(2);
        expect(text).toContain("the target is the database the nodes use now, reached under another spelling");
        expect(text).toContain(`current ${spelled(m.old)} reaches database Octopus (id 5`);
        expect(text).toContain(`target ${spelled(same)} reaches database Octopus (id 5`);
        expect(text).not.toMatch(/restore checks match \(another database/);
      }
      expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));
      const after = m.s.standin.cluster.state();
      expect(after.isInMaintenanceMode).toBe(before.isInMaintenanceMode);
      expect(after.nodes.map((n) => [n.name, n.running, n.isDraining])).toEqual(before.nodes.map((n) => [n.name, n.running, n.isDraining]));
    },
  );

  it("a moveTo with no Database= is refused by check as bad input (exit 2): it would land on the login's default database", async () => {
    const m = await moveScenario("faithful");
    const r = await m.s.cliWithEnv({ [MOVE_ENV]: m.target.connectionString.replace("Database=OctopusHA;", "") }, "check", m.s.planFile);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/\(database\.moveTo\) names no database \(no Database= or Initial Catalog=\)/);
  });

  it("without database.current, check and dry-run warn (exit 0) that a rollback writes octoha's own string into every node, and the preview says whose string 'before' is", async () => {
    const m = await moveScenario("faithful");
    const own = m.s.plan.octopus.sql.connectionString.env;
    const check = await m.cli("check");
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain(
      `warning: database.moveTo without database.current: a rollback would write octoha's own connection string (${own}, with its login, often a read-only one) into every node's config`,
    );
    expect(check.stdout).toMatch(/fix: Set database\.current to an env reference holding the nodes' own connection string/);
    const dry = await m.cli("dry-run", "--format", "md");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("database.moveTo without database.current: a rollback would write octoha's own connection string");
    expect(dry.stdout).toContain(
      `; the before, and what a rollback writes back, is octopus.sql.connectionString (${own}): octoha's own string, database.current not being set`,
    );
    const json = await m.cli("dry-run", "--format", "json");
    expect(json.stdout).toMatch(/"before":"Octopus on [^"]*, from octopus\.sql\.connectionString \(/);

    // With database.current the nodes' own string: no warning, and the preview names it.
    m.s.plan.database = { moveTo: { env: MOVE_ENV }, current: { env: "OCTOHA_NODES_SQL" } };
    await writeFile(m.s.planFile, `${JSON.stringify(m.s.plan, null, 2)}\n`);
    const env = { [MOVE_ENV]: m.target.connectionString, OCTOHA_NODES_SQL: m.old };
    const checked = await m.s.cliWithEnv(env, "check", m.s.planFile);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    expect(checked.stdout).not.toContain("without database.current");
    const dried = await m.s.cliWithEnv(env, "dry-run", m.s.planFile, "--format", "md");
    expect(dried.stdout).not.toContain("without database.current");
    expect(dried.stdout).toContain("; the before, and what a rollback writes back, is database.current (OCTOHA_NODES_SQL)");
  });

  it("a restore one row short stops at repoint-database (exit 3) before any node changes, naming the table; rollback brings the cluster back", async () => {
    const m = await moveScenario("table-short");
    const r = await m.cli("repair", "--yes", "--json");
    expect(r.code, r.stderr).toBe(3);
    const text = r.stdout + r.stderr;
    expect(text).toContain("DB_MOVE_NOT_FAITHFUL");
    expect(text).toMatch(/rows in ServerTask differ: current (\d+), target (\d+)/);
    expect(text).toContain("no node was changed");
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));
    const back = await m.cli("rollback", "--yes", "--json");
    expect(back.code, back.stderr).toBe(4);
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));
    expect(live(m)).toBe("Octopus");
    expect(m.s.standin.cluster.state().nodes.every((n) => n.running && !n.isDraining)).toBe(true);
    expectNoSecret(m, [r.stdout, r.stderr, back.stdout, back.stderr]);
  });

  it("killed (SIGKILL) in the middle of repoint-database and resumed, ends with every node on the new database", async () => {
    const m = await moveScenario("faithful");
    const killed = await killedChild(m, { type: "step-message", stepId: "repoint-database", message: "OCTO1 now names" });
    expectKilled(killed);
    // OCTO1 was written, OCTO2 not yet.
    const mid = await nodeConnectionStrings(m);
    expect(mid).toEqual({ OCTO1: m.target.connectionString, OCTO2: m.old });
    const r = await m.cli("resume", "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.target.connectionString));
    expect(live(m)).toBe("OctopusHA");
    expect(r.stdout).toContain("OCTO2 now names");
    expect(r.stdout).not.toContain("OCTO1 now names");
    expectNoSecret(m, [killed.stdout, killed.stderr, r.stdout, r.stderr]);
  });
});

describe("a resumed repoint-database compares the databases again", () => {
  it("killed after its comparison, a task Octopus wrote since into the current database stops the resume (exit 3): no node moves onto the restore lacking it", async () => {
    const m = await moveScenario("faithful");
    // SIGKILL right after the comparison's checkpoint, before any node is written.
    const killed = await killedChild(m, { type: "step-message", stepId: "repoint-database", message: "Restore comparison: all" });
    expectKilled(killed);
    // Someone starts a node by hand; Octopus writes a task into the database it names (the current one), and it stops again.
    m.s.standin.cluster.startNode("OCTO1");
    await m.s.standin.http.settle();
    const task = m.s.standin.cluster.queueTask({ requestedBy: "administrator" });
    m.s.standin.cluster.stopNode("OCTO1");
    await m.s.standin.http.settle();
    expect(await taskIds(m.old)).toContain(task.id);
    expect(await taskIds(m.target.connectionString)).not.toContain(task.id);

    const r = await m.cli("resume", "--yes", "--json");
    expect(r.code, r.stderr).toBe(3);
    const text = r.stdout + r.stderr;
    expect(text).toContain("DB_MOVE_NOT_FAITHFUL");
    expect(text).toMatch(/rows in ServerTask differ: current (\d+), target (\d+)/);
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));
    expect(m.s.standin.cluster.state().nodes.every((n) => !n.running)).toBe(true);
    expectNoSecret(m, [killed.stdout, killed.stderr, r.stdout, r.stderr]);
  });
});

describe("a resumed repoint-database with nodes started by hand after a kill", () => {
  it("refuses (exit 3) and names, per running node, the database it is configured for: a written node the target, the others the current one", async () => {
    const m = await moveScenario("faithful");
    // SIGKILL right after OCTO1 was written (it names the target), before OCTO2 (it still names the current one).
    const killed = await killedChild(m, { type: "step-message", stepId: "repoint-database", message: "OCTO1 now names" });
    expectKilled(killed);
    m.s.standin.cluster.startNode("OCTO1");
    m.s.standin.cluster.startNode("OCTO2");
    // Past their start-up (a starting node's ping answers 503: its state is then unknown, not running).
    await until("OCTO1 and OCTO2 serve", () => m.s.standin.cluster.isReady("OCTO1") && m.s.standin.cluster.isReady("OCTO2"));
    await m.s.standin.http.settle();

    const r = await m.cli("resume", "--yes");
    expect(r.code, r.stderr).toBe(3);
    const text = r.stdout + r.stderr;
    expect(text).toContain("OCTO1 is running, OCTO2 is running");
    expect(text).toMatch(
      /OCTO1 names the target database \(OctopusHA on [^)]+\): this run wrote it before the stop, so it writes into the target/,
    );
    expect(text).toMatch(
      /OCTO2 names the current database \(Octopus on [^)]+\), not yet written by this run: it writes into the current database/,
    );
    expect(text).not.toMatch(/OCTO1[^\n]*writes into the current database/);
    expect(text).not.toContain("A node running now writes into the current database");
    expect(await nodeConnectionStrings(m)).toEqual({ OCTO1: m.target.connectionString, OCTO2: m.old });
    expectNoSecret(m, [killed.stdout, killed.stderr, r.stdout, r.stderr]);
  });
});

describe("a resume whose database.moveTo now names another database", () => {
  it("is refused with exit 2 before anything is done: nothing journaled, no node touched; with the variable put back the resume finishes", async () => {
    const m = await moveScenario("faithful");
    const killed = await killedChild(m, { type: "step-message", stepId: "repoint-database", message: "Restore comparison: all" });
    expectKilled(killed);
    const journal = path.join(m.s.stateDir, "runs", readdirSync(path.join(m.s.stateDir, "runs"))[0]!, "journal.jsonl");
    const recorded = readFileSync(journal, "utf8");
    const elsewhere = m.target.connectionString.replace(/Database=[^;]+/i, "Database=OctopusElsewhere");
    const r = await m.s.cliWithEnv({ [MOVE_ENV]: elsewhere }, "resume", m.s.planFile, "--yes");
    expect(r.code, r.stderr).toBe(2);
    const text = r.stdout + r.stderr;
    expect(text).toContain("database.moveTo now names OctopusElsewhere");
    expect(text).toContain("nothing was done");
    expect(text).toContain(`Set ${MOVE_ENV} (database.moveTo) back to the connection string of OctopusHA`);
    expect(readFileSync(journal, "utf8")).toBe(recorded);
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));

    const resumed = await m.cli("resume", "--yes", "--json");
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.target.connectionString));
    expectNoSecret(m, [killed.stdout, killed.stderr, r.stdout, r.stderr, resumed.stdout, resumed.stderr]);
  });
});

describe("a rollback when one node's `database` command fails", () => {
  it("puts back every other node, says which were put back and which not with that node's own command, and keeps every node stopped; once the recipe is fixed the rollback finishes", async () => {
    const m = await moveScenario("faithful", "repair", (o) => scenario({ ...o, standin: { ...o.standin, nodes: 3 } }));
    // OCTO2's serverExe saves nothing: its `database` fails (in the run and in the rollback).
    const real = (m.s.plan.nodes[1]!.control as { serverExe: string[] }).serverExe;
    const failing = path.join(m.s.root, "octo2-server.sh");
    await writeFile(
      failing,
      `#!/bin/sh\nif [ "$1" = "database" ]; then echo "could not save the connection string" >&2; exit 1; fi\nexec ${real[0]!} "$@"\n`,
      { mode: 0o755 },
    );
    const withServerExe = async (exe: string[]) => {
      (m.s.plan.nodes[1]!.control as { serverExe: string[] }).serverExe = exe;
      await writeFile(m.s.planFile, `${JSON.stringify(m.s.plan, null, 2)}\n`);
    };
    await withServerExe([failing]);

    const r = await m.cli("repair", "--yes", "--json");
    expect(r.code, r.stderr).toBe(3);
    expect(await nodeConnectionStrings(m)).toEqual({ OCTO1: m.target.connectionString, OCTO2: m.old, OCTO3: m.old });

    const back = await m.cli("rollback", "--yes");
    expect(back.code, back.stderr).toBe(1);
    const text = back.stdout + back.stderr;
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));
    expect(m.s.standin.cluster.state().nodes.every((n) => !n.running)).toBe(true);
    expect(text).toMatch(/OCTO2 could not be pointed back at Octopus on \S+; put back: OCTO1; never changed by the run: OCTO3/);
    expect(text).toContain(`Try it by hand from this machine: ${failing} database --instance=OctopusServer "--connectionString=***"`);
    expect(text).toContain(`*** stands for the value of ${m.s.plan.octopus.sql.connectionString.env}`);
    expect(text).toContain("As the rollback left it: every node's Octopus service is stopped (Octopus is down)");
    expect(text).not.toContain("Nothing was undone");
    expect(text).not.toContain("octoha resume");
    expect(text).not.toContain("on each by hand");
    const status = await m.s.cli("status", m.s.planFile);
    expect(status.stdout).toMatch(/repoint-database .*rollback failed: OCTO2 could not be pointed back .*put back: OCTO1/);

    await withServerExe(real);
    const again = await m.cli("rollback", "--yes", "--json");
    expect(again.code, again.stderr).toBe(4);
    expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));
    expect(m.s.standin.cluster.state().nodes.every((n) => n.running)).toBe(true);
    expectNoSecret(m, [r.stdout, r.stderr, back.stdout, back.stderr, again.stdout, again.stderr]);
  });
});

const REPAIR_WITH_MOVE = [
  "preflight",
  "provision-storage",
  "drain-nodes",
  "maintenance-on",
  "stop-services",
  "repoint-database",
  "repath",
  "copy-task-logs",
  "copy-artifacts",
  "copy-packages",
  "verify-copy",
  "start-services",
  "verify-database",
  "verify-octopus",
  "maintenance-off",
  "undrain",
];

/** Scenarios of the concurrent tests below, closed once they are all done (scenario()'s afterEach would close a neighbour's). */
const concurrentScenarios: Scenario[] = [];
afterAll(async () => {
  await Promise.all(concurrentScenarios.splice(0).map((s) => s.close()));
});
const concurrentScenario = async (o: ScenarioOptions) => {
  const s = await startScenario(o);
  concurrentScenarios.push(s);
  return s;
};

let inProcessCases = 0;

/**
 * The scenario as the in-process harness runs it: its secrets in this process's environment until the test ends,
 * under names of its own (the plan is rewritten to name them), so that cases running at the same time never read
 * each other's. The child CLI (m.cli) no longer finds them.
 */
async function inProcessCase(m: Move): Promise<E2eCase & { done(): void }> {
  const n = ++inProcessCases;
  const names = [`OCTOHA_E2E_DB${n}_API_KEY`, `OCTOHA_E2E_DB${n}_SQL_CONNECTION_STRING`, `OCTOHA_E2E_DB${n}_NEW_SQL_CONNECTION_STRING`];
  const [apiKeyEnv, sqlEnv, moveToEnv] = names as [string, string, string];
  m.s.plan.octopus.apiKey = { env: apiKeyEnv };
  m.s.plan.octopus.sql.connectionString = { env: sqlEnv };
  m.s.plan.database = { moveTo: { env: moveToEnv } };
  await writeFile(m.s.planFile, `${JSON.stringify(m.s.plan, null, 2)}\n`);
  const secrets = { [apiKeyEnv]: m.s.standin.apiKey, [sqlEnv]: m.old, [moveToEnv]: m.target.connectionString };
  Object.assign(process.env, secrets);
  return {
    dir: m.s.root,
    planFile: m.s.planFile,
    stateDir: m.s.stateDir,
    standin: m.s.standin,
    env: cleanEnv(secrets),
    close: async () => undefined,
    done: () => Object.keys(secrets).forEach((k) => delete process.env[k]),
  };
}

describe("database.moveTo killed at every step boundary, and rolled back from the middle (in-process kills)", () => {
  it("killed after every step and resumed each time, every node ends on the new database", async () => {
    const m = await moveScenario("faithful", "repair", concurrentScenario);
    const c = await inProcessCase(m);
    try {
      let verb: "repair" | "resume" = "repair";
      for (const stepId of REPAIR_WITH_MOVE) {
        const r = await octohaInProcess(c, verb, { killOn: { type: "step-applied", stepId } });
        expect(r.simulatedKillAt?.record, `${stepId}: ${r.stderr.slice(-800)}`).toMatchObject({ stepId });
        await expectStoppedAtPlannedPoint(r, `repair with a database move killed after ${stepId}`);
        verb = "resume";
      }
      const r = await octohaInProcess(c, "resume");
      expect(r.code, r.stderr).toBe(0);
      expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.target.connectionString));
      expect(live(m)).toBe("OctopusHA");
      expectNoSecret(m, [r.stdout, r.stderr]);
    } finally {
      c.done();
    }
  });

  // Every step of the run but the last (a finished run's rollback is the test above).
  // Concurrent: each has its own stand-in, folders and secret variable names.
  it.concurrent.each(REPAIR_WITH_MOVE.slice(0, -1))("rolled back after %s, every node names the old database and runs", async (stepId) => {
    const m = await moveScenario("faithful", "repair", concurrentScenario);
    const c = await inProcessCase(m);
    try {
      const killed = await octohaInProcess(c, "repair", { killOn: { type: "step-applied", stepId } });
      // Stopped at that record, the journal ending there, and nothing done after it (no late drain
      // or service stop from the killed run landing during the rollback).
      await expectStoppedAtPlannedPoint(killed, `repair killed after ${stepId}`);
      const back = await octohaInProcess(c, "rollback");
      expect(back.code, back.stderr).toBe(4);
      expect(await nodeConnectionStrings(m)).toEqual(onEveryNode(m, m.old));
      expect(live(m)).toBe("Octopus");
      expect(m.s.standin.cluster.state().nodes.every((n) => n.running && !n.isDraining)).toBe(true);
      expectNoSecret(m, [killed.stdout, back.stdout, back.stderr]);
    } finally {
      c.done();
    }
  });
});

/** The child ended by its own SIGKILL; if it exited instead, the failure shows how and what it printed. */
function expectKilled(killed: Awaited<ReturnType<typeof killedChild>>): void {
  expect(killed.signal, `child exited ${killed.code}: ${killed.stderr}${killed.stdout.slice(-3000)}`).toBe("SIGKILL");
}

/** `octoha repair PLAN --yes --json` as a child that SIGKILLs itself right after the named --json event. */
function killedChild(
  m: Move,
  spec: Record<string, string>,
): Promise<{ signal: NodeJS.Signals | null; code: number | null; stdout: string; stderr: string }> {
  const env = cleanEnv({
    [m.s.plan.octopus.apiKey!.env]: m.s.standin.apiKey,
    [m.s.plan.octopus.sql.connectionString.env]: m.old,
    [MOVE_ENV]: m.target.connectionString,
    E2E_KILL_ON: JSON.stringify(spec),
  });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", KILL_FIXTURE, CLI, "repair", m.s.planFile, "--json", "--yes"], { env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ signal, code, stdout, stderr }));
  });
}
