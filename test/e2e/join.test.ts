/**
 * `octoha join NODE --plan PLAN` against the stand-in (issue 14): a 2-node cluster whose folders are on the share
 * becomes 3 through the spare machine OCTO3's PowerShell-remoting recipe (the powershell look-alike runs its own
 * Octopus.Server). Killed after each step and resumed, the same. A wrong version, a missing master key variable,
 * an unreachable share and a taken name are refused before anything changes (exit 2, the fix named; no state
 * directory, no instance on OCTO3). The master key and the connection string appear in no output, journal,
 * report or command line a look-alike logged.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi, type TestContext } from "vitest";
import { startStandin, type RunningStandin, type SpareMachine } from "@octoha/standin";
import { writeNodeControlLookalikes, type NodeControlLookalikes } from "@octoha/standin/testing";
import { demoPlan } from "../../src/demo/demo.js";
import { continueRun, runWorkflow } from "../../src/operations/apply.js";
import type { PlanInput } from "../../src/plan/schema.js";
import type { JournalRecord } from "../../src/runner/journal.js";
import { OctohaError } from "../../src/shared/errors.js";
import { CLI, cleanEnv } from "../helpers/cli.js";
import { runCliInProcess } from "../helpers/in-process-cli.js";

vi.setConfig({ testTimeout: 240_000 });

const SHARE = "\\\\fs01\\OctopusShared";
const MASTER_KEY = "5qJcW9E6B99teMmrOzaYNA==";
const MASTER_KEY_ENV = "OCTOPUS_MASTER_KEY";
const KILL_FIXTURE = fileURLToPath(new URL("./fixtures/kill-on-event.mjs", import.meta.url));
const JOIN_STEPS = ["join-preflight", "join-create-instance", "join-database", "join-configure", "join-service", "join-verify"];

interface JoinCase {
  root: string;
  standin: RunningStandin;
  lookalikes: NodeControlLookalikes;
  plan: PlanInput;
  planFile: string;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/** A case of its own per test, closed when that test ends (the command-line tests run concurrently). */
async function joinCase(
  t: Pick<TestContext, "onTestFinished">,
  o: { spare?: Partial<SpareMachine>; editPlan?: (p: PlanInput) => void; startupMs?: number } = {},
): Promise<JoinCase> {
  const root = await mkdtemp(path.join(os.tmpdir(), "octoha-join-"));
  const folders = { taskLogs: `${SHARE}\\TaskLogs`, artifacts: `${SHARE}\\Artifacts`, packages: `${SHARE}\\Packages` };
  const standin = await startStandin({
    dataDir: path.join(root, "cluster"),
    nodes: 2,
    seedTasks: 3,
    startupMs: o.startupMs ?? 500,
    folders,
    spareMachines: [{ host: "OCTO3", ...o.spare }],
    masterKey: MASTER_KEY,
  });
  const lookalikes = writeNodeControlLookalikes(path.join(root, "lookalikes"), standin);
  const stateDir = path.join(root, "plan", "state");
  const plan = demoPlan(standin, stateDir);
  plan.nodes.push({ name: "OCTO3", url: standin.spareMachines[0]!.url, control: { kind: "winrm", host: "OCTO3" } });
  plan.options = { ...plan.options, tools: { powershell: lookalikes.powershell }, serviceStartTimeoutMinutes: 1 };
  o.editPlan?.(plan);
  const planFile = path.join(root, "plan", "plan.json");
  await mkdir(path.dirname(planFile), { recursive: true });
  await writeFile(planFile, `${JSON.stringify(plan, null, 2)}\n`);
  const env = cleanEnv({
    [plan.octopus.apiKey!.env]: standin.apiKey,
    [plan.octopus.sql.connectionString.env]: standin.sqlConnectionString ?? "",
    [MASTER_KEY_ENV]: MASTER_KEY,
  });
  const c: JoinCase = {
    root,
    standin,
    lookalikes,
    plan,
    planFile,
    stateDir,
    env,
    async close() {
      await standin.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  t.onTestFinished(() => c.close());
  return c;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** octoha in this process, or as a child with the kill fixture when the test kills it (a real SIGKILL). */
async function octoha(c: JoinCase, args: string[], o: { env?: NodeJS.ProcessEnv; killOn?: object } = {}): Promise<Run> {
  if (!o.killOn) return { ...(await runCliInProcess(args, o.env ?? c.env)), signal: null };
  const preload = ["--import", KILL_FIXTURE];
  const env = { ...(o.env ?? c.env), ...(o.killOn ? { E2E_KILL_ON: JSON.stringify(o.killOn) } : {}) };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...preload, CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const join = (c: JoinCase, ...extra: string[]) => octoha(c, ["join", "OCTO3", "--plan", c.planFile, "--json", ...extra]);

/** The secrets octoha handled, in every form a leak could take. */
function expectNoSecret(c: JoinCase, text: string, where: string): void {
  for (const secret of [MASTER_KEY, c.standin.sqlConnectionString ?? "(none)"])
    expect(text.includes(secret), `${where} holds a secret`).toBe(false);
}

/** Every file the run wrote (journal, report.md, report.json, lock) and every command line a look-alike was given. */
function expectNothingLeaked(c: JoinCase): void {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk : (f: string) => files.push(f))(path.join(d, e.name));
  };
  if (existsSync(c.stateDir)) walk(c.stateDir);
  expect(files.some((f) => f.endsWith("journal.jsonl"))).toBe(true);
  for (const f of files) expectNoSecret(c, readFileSync(f, "utf8"), f);
  expectNoSecret(c, JSON.stringify(c.lookalikes.calls()), "the look-alikes' logged command lines");
}

function expectJoined(c: JoinCase): void {
  const nodes = c.standin.cluster.nodes();
  expect(nodes.map((n) => n.name)).toEqual(["OCTO1", "OCTO2", "OCTO3"]);
  expect(nodes.find((n) => n.name === "OCTO3")).toMatchObject({ running: true, isDraining: false });
  expect(c.standin.machines.machine("OCTO3").created).toEqual([
    expect.objectContaining({ instance: "OctopusServer", nodeName: "OCTO3", commsListenPort: 10943, serviceInstalled: true }),
  ]);
}

/** Nothing changed: no state directory, no instance on OCTO3, still two nodes. */
function expectUnchanged(c: JoinCase): void {
  expect(existsSync(c.stateDir)).toBe(false);
  expect(c.standin.machines.machine("OCTO3").created).toEqual([]);
  expect(c.standin.cluster.nodes().map((n) => n.name)).toEqual(["OCTO1", "OCTO2"]);
}

describe.concurrent("octoha join: a 2-node stand-in cluster becomes 3", () => {
  it("joins OCTO3 through its winrm recipe, proves it serves, leaks no secret, and tentacles lists it", async (t) => {
    const c = await joinCase(t);
    const r = await join(c, "--yes");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expectJoined(c);
    const applied = r.stdout
      .split("\n")
      .filter((l) => l.includes('"step-applied"'))
      .map((l) => (JSON.parse(l) as { stepId: string }).stepId);
    expect(applied).toEqual(JOIN_STEPS);
    // The proof step read a log another node wrote, through OCTO3's own URL.
    const raw = await fetch(`${c.standin.spareMachines[0]!.url}/api/octopusservernodes/ping`);
    expect(raw.status).toBe(200);
    expectNoSecret(c, r.stdout + r.stderr, "octoha's output");
    expectNothingLeaked(c);
    const powershell = c.lookalikes.calls().filter((x) => x.tool === "powershell");
    expect(powershell.some((x) => x.argv.join(" ").includes(`$env:OCTOHA_SECRET_${MASTER_KEY_ENV}`))).toBe(true);

    const tentacles = await octoha(c, ["tentacles", c.planFile]);
    expect(tentacles.code, tentacles.stdout + tentacles.stderr).toBe(0);
    // OCTO3, now in the plan and in the cluster, is one of the nodes every polling Tentacle registers with.
    expect(tentacles.stdout).toContain("must poll every node (3)");
    expect(tentacles.stdout).toMatch(/# OCTO3: polls \S+:10943\b[^\n]*\n[^\n]*poll-server/);
  });

  it("run again once it finished: says OCTO3 is already joined (nothing to do, the status command), not to choose another name", async (t) => {
    const c = await joinCase(t);
    expect((await join(c, "--yes")).code).toBe(0);
    const runId = readdirSync(path.join(c.stateDir, "runs"))[0]!;
    const again = await octoha(c, ["join", "octo3", "--plan", c.planFile, "--yes"]);
    expect(again.code, again.stdout + again.stderr).toBe(2);
    expect(again.stderr).toContain(`octo3 is already a node of the cluster: run ${runId} joined it; nothing was changed`);
    expect(again.stderr).toContain(`There is nothing to do. \`octoha status ${c.planFile} --run ${runId}\` shows that run`);
    expect(again.stderr).not.toContain("choose another name");
    expect(readdirSync(path.join(c.stateDir, "runs"))).toEqual([runId]);
    expectJoined(c);
  });

  it("a node still starting (its ping answers 503) is said to be still starting, not to have not answered (exit 3)", async (t) => {
    const c = await joinCase(t, {
      startupMs: 600_000,
      editPlan: (p) => (p.options = { ...p.options, serviceStartTimeoutMinutes: 0.05 }),
    });
    const r = await octoha(c, ["join", "OCTO3", "--plan", c.planFile, "--yes"]);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    const text = r.stdout + r.stderr;
    expect(text).toContain("Node OCTO3 joined but it is still starting: its ping answered 503 (Service Unavailable) for 3 s");
    expect(text).toContain("Its service runs; Octopus has not finished starting.");
    expect(text).not.toContain("did not answer");
  });

  it("stops at the master-key approval gate without --yes (exit 3), changing nothing on OCTO3; resume --yes finishes", async (t) => {
    const c = await joinCase(t);
    const r = await join(c);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout + r.stderr).toMatch(/master key is backed up/);
    expect(c.standin.machines.machine("OCTO3").created).toEqual([]);
    const resumed = await octoha(c, ["resume", c.planFile, "--yes", "--json"]);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expectJoined(c);
  });
});

describe.concurrent("octoha join refuses before anything changes (exit 2, with the fix)", () => {
  it("a node whose installed Octopus version is not the cluster's", async (t) => {
    const c = await joinCase(t, { spare: { version: "2023.4.1000" } });
    const r = await join(c, "--yes");
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/OCTO3 has Octopus Server 2023\.4\.1000 installed; the cluster runs 2024\.1\.12345/);
    expect(r.stderr).toMatch(/Install exactly Octopus Server 2024\.1\.12345 on OCTO3/);
    expectUnchanged(c);
  });

  it("a missing master key variable", async (t) => {
    const c = await joinCase(t);
    const r = await octoha(c, ["join", "OCTO3", "--plan", c.planFile, "--yes"], { env: { ...c.env, [MASTER_KEY_ENV]: undefined } });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/OCTOPUS_MASTER_KEY \(the cluster's master key\) is not set/);
    expect(r.stderr).toMatch(/--master-key-env/);
    expectUnchanged(c);
    // No command reached OCTO3 either.
    expect(c.lookalikes.calls()).toEqual([]);
  });

  it("a shared folder OCTO3 cannot reach", async (t) => {
    const c = await joinCase(t);
    c.standin.machines.setFaults("OCTO3", { shareUnreachable: true });
    const r = await join(c, "--yes");
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/OCTO3 cannot reach the shared folders \\\\fs01\\OctopusShared\\TaskLogs/);
    expect(r.stderr).toMatch(/Test-Path must answer True there/);
    expectUnchanged(c);
  });

  it("a node name the cluster already has", async (t) => {
    const c = await joinCase(t);
    c.standin.cluster.joinNode("octo3");
    const r = await join(c, "--yes");
    expect(r.code, r.stdout + r.stderr).toBe(2);
    // Said once (it was printed twice: as the error's issues and again as its hint).
    expect(r.stderr.match(/already has a node octo3/g)).toHaveLength(1);
    expect(r.stderr.match(/fix: If octo3 is this machine, joined already/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/Otherwise choose another name/);
    expect(existsSync(c.stateDir)).toBe(false);
    expect(c.standin.machines.machine("OCTO3").created).toEqual([]);
  });

  it("a node url that an existing node answers (OCTO1's), named, before any change", async (t) => {
    // Spelled differently from nodes[0].url (the plan check compares addresses as written), it reaches OCTO1 all the same.
    const c = await joinCase(t, { editPlan: (p) => (p.nodes[2]!.url = p.nodes[0]!.url!.replace("127.0.0.1", "localhost")) });
    const r = await join(c, "--yes");
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/Node OCTO3's URL \(\S+\) was answered by node OCTO1/);
    expect(r.stderr).toMatch(/Set nodes\[\]\.url for OCTO3 to its own address/);
    expectUnchanged(c);
  });

  it("a --comms-port other than the port Tentacles are told (the plan's pollingAddress, else 10943)", async (t) => {
    const c = await joinCase(t, { editPlan: (p) => (p.nodes[2]!.pollingAddress = "https://octo3.corp:10944") });
    const r = await join(c, "--yes", "--comms-port", "10950");
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--comms-port 10950 differs from the port polling Tentacles are told for OCTO3 \(10944\)/);
    expect(r.stderr).toMatch(/pollingAddress for OCTO3 to https:\/\/<OCTO3 host>:10950/);
    expectUnchanged(c);
    const bare = await joinCase(t);
    const r2 = await join(bare, "--yes", "--comms-port", "10950");
    expect(r2.code, r2.stdout + r2.stderr).toBe(2);
    expect(r2.stderr).toMatch(/OCTO3 has no pollingAddress in the plan: `octoha tentacles` tells Tentacles its url host on port 10943/);
    expectUnchanged(bare);
  });

  it("a wss:// pollingAddress (WebSocket polling), whose listener join does not set up", async (t) => {
    const c = await joinCase(t, { editPlan: (p) => (p.nodes[2]!.pollingAddress = "wss://octo3.corp:8443/OctopusComms") });
    const r = await join(c, "--yes");
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /pollingAddress wss:\/\/octo3\.corp:8443\/OctopusComms is WebSocket polling: octoha join does not set up a WebSocket listener/,
    );
    expect(r.stderr).toMatch(/--print/);
    expectUnchanged(c);
    expect(c.lookalikes.calls()).toEqual([]);
  });

  for (const fault of ["unreachable", "denied"] as const)
    it(`a node that is ${fault} over WinRM: exit 2, no run to resume`, async (t) => {
      const c = await joinCase(t);
      c.lookalikes.setFault("OCTO3", fault);
      const r = await join(c, "--yes");
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr).toMatch(/nothing was changed and no run was started/);
      expect(r.stderr).toMatch(/run the join again: octoha join OCTO3 --plan/);
      expect(r.stderr).not.toMatch(/octoha resume/);
      expectUnchanged(c);
    });

  it("a node whose command hangs: exit 2, naming the command that hung (version), not service --start", async (t) => {
    const c = await joinCase(t, { editPlan: (p) => (p.options = { ...p.options, serviceCommandTimeoutSeconds: 2 }) });
    c.lookalikes.setFault("OCTO3", "hang");
    const r = await join(c, "--yes");
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/Octopus\.Server version on OCTO3 did not finish within 2 s and was killed; nothing was changed/);
    expect(r.stderr).not.toMatch(/service --start/);
    expect(r.stderr).not.toMatch(/octoha resume/);
    expectUnchanged(c);
  });

  it("a node whose recipe cannot run commands (sc), pointing at --print", async (t) => {
    const c = await joinCase(t, { editPlan: (p) => (p.nodes[2]!.control = { kind: "sc", host: "OCTO3" }) });
    const r = await join(c, "--yes");
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/cannot run commands on it/);
    expect(r.stderr).toMatch(/octoha join OCTO3 --plan .* --print/);
    expectUnchanged(c);
  });
});

/** Thrown by the journal hook: the in-process run stops right after that record, as a kill -9 would leave it. */
class SimulatedKill extends Error {}

async function inProcess(c: JoinCase, mode: "run" | "resume", killAfter?: (r: JournalRecord) => boolean): Promise<number | "killed"> {
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const kill = new SimulatedKill("simulated kill");
  let killed = false;
  const hooks = killAfter
    ? {
        afterJournalWrite: (_n: number, r: JournalRecord) => {
          if (killed || !killAfter(r)) return;
          killed = true;
          throw kill;
        },
      }
    : undefined;
  const saved = { ...process.env };
  Object.assign(process.env, c.env);
  try {
    const common = {
      approve: "yes" as const,
      json: true,
      signal: new AbortController().signal,
      streams: { out: sink, err: sink },
      ...(hooks ? { hooks } : {}),
    };
    const outcome =
      mode === "run"
        ? await runWorkflow({ workflow: "join", planFile: c.planFile, flags: { joinNode: "OCTO3" }, ...common })
        : await continueRun({ mode: "resume", planFile: c.planFile, ...common });
    return outcome.exitCode;
  } catch (error) {
    if (error === kill) return "killed";
    if (error instanceof OctohaError) throw new Error(`${error.message}\n${error.hint ?? ""}`);
    throw error;
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/** A TCP port nothing listens on (taken from the OS and let go). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** What an earlier, manual attempt on OCTO3 would have left: the instance, made by its own Octopus.Server. */
function createInstanceByHand(c: JoinCase, o: { config?: string; nodeName?: string } = {}): Promise<void> {
  const args = [
    "create-instance",
    "--instance",
    "OctopusServer",
    "--config",
    o.config ?? "C:\\Octopus\\OctopusServer.config",
    "--serverNodeName",
    o.nodeName ?? "OCTO3",
  ];
  return new Promise<void>((resolve, reject) =>
    spawn(c.standin.spareMachines[0]!.serverExe, args)
      .on("close", (code) => (code === 0 ? resolve() : reject(new Error(`create-instance exited ${code}`))))
      .on("error", reject),
  );
}

describe("octoha join killed at each step and resumed ends the same", () => {
  for (const step of JOIN_STEPS) {
    it(`killed right after ${step} is journaled, then resumed`, async (t) => {
      const c = await joinCase(t);
      expect(await inProcess(c, "run", (r) => r.t === "applied" && r.stepId === step)).toBe("killed");
      expect(await inProcess(c, "resume")).toBe(0);
      expectJoined(c);
      expectNothingLeaked(c);
    });
  }

  it("killed after create-instance ran but before it was journaled: the resume finds the instance and goes on", async (t) => {
    const c = await joinCase(t);
    // Killed at the checkpoint written just before the command runs; then the command runs (as if the kill came a moment later).
    expect(await inProcess(c, "run", (r) => r.t === "checkpoint" && r.stepId === "join-create-instance")).toBe("killed");
    expect(c.standin.machines.machine("OCTO3").created).toEqual([]);
    await createInstanceByHand(c);
    expect(await inProcess(c, "resume")).toBe(0);
    expectJoined(c);
  });

  it("an instance someone made at the run's config path during a kill, under another node name, is not taken for this run's own", async (t) => {
    const c = await joinCase(t);
    // Killed at the checkpoint written just before the command runs: the command never reached OCTO3.
    expect(await inProcess(c, "run", (r) => r.t === "checkpoint" && r.stepId === "join-create-instance")).toBe("killed");
    // Meanwhile someone makes an instance of that name at that config path, running as another node.
    await createInstanceByHand(c, { nodeName: "SOMEONE" });
    const resumed = await octoha(c, ["resume", c.planFile, "--yes"]);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(3);
    expect(resumed.stderr).toMatch(/JOIN_INSTANCE_EXISTS|already has an instance OctopusServer, not made by this run/);
    expect(resumed.stderr).toMatch(/show-configuration reads node name SOMEONE, Home C:\\Octopus, not OCTO3/);
    // SOMEONE's instance got neither the cluster's database and master key nor a service: the cluster still has two nodes.
    const someone = c.standin.machines.machine("OCTO3").created;
    expect(someone).toEqual([expect.objectContaining({ nodeName: "SOMEONE" })]);
    expect(someone[0]!.serviceInstalled).toBeUndefined();
    expect(c.standin.machines.config("OCTO3", "OctopusServer").masterKey).toBeUndefined();
    expect(c.standin.cluster.nodes().map((n) => n.name)).toEqual(["OCTO1", "OCTO2"]);
  });

  it("an instance that was on OCTO3 before the run (its config file there) is refused before anything changes", async (t) => {
    const c = await joinCase(t);
    await createInstanceByHand(c, { nodeName: "DEVBOX" });
    const r = await join(c, "--yes");
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /OCTO3 already has the config file C:\\Octopus\\OctopusServer\.config: an Octopus instance was made there before/,
    );
    expect(existsSync(c.stateDir)).toBe(false);
    expect(c.standin.machines.machine("OCTO3").created).toEqual([expect.objectContaining({ nodeName: "DEVBOX" })]);
    expect(c.standin.cluster.nodes().map((n) => n.name)).toEqual(["OCTO1", "OCTO2"]);
  });

  it("an instance of that name under another config file is refused by the checks (exit 2), naming it, not --config", async (t) => {
    const c = await joinCase(t);
    await createInstanceByHand(c, { config: "D:\\Other\\Other.config", nodeName: "SOMEONE" });
    const r = await join(c, "--yes");
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /OCTO3 already has an Octopus instance named OctopusServer \(show-configuration --instance OctopusServer reads it: node name SOMEONE/,
    );
    expect(r.stderr).toMatch(/another --config does not help/);
    expect(r.stderr).not.toMatch(/C:\\Octopus\\OctopusServer\.config/);
    expect(existsSync(c.stateDir)).toBe(false);
    expect(c.standin.machines.machine("OCTO3").created).toEqual([expect.objectContaining({ nodeName: "SOMEONE" })]);
  });

  it("an instance of that name made under another config file during a kill is not taken for this run's own; its rollback closes the run, pointing at nothing", async (t) => {
    const c = await joinCase(t);
    // Killed once create-instance's checkpoint is on disk: the resume cannot tell from that alone whether the command ran.
    expect(await inProcess(c, "run", (r) => r.t === "checkpoint" && r.stepId === "join-create-instance")).toBe("killed");
    // Meanwhile someone makes an instance of that name where the join would not write its config file.
    await createInstanceByHand(c, { config: "C:\\DevBox\\OctopusServer.config", nodeName: "DEVBOX" });
    const resumed = await octoha(c, ["resume", c.planFile, "--yes"]);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(3);
    expect(resumed.stdout + resumed.stderr).toMatch(/already has an instance OctopusServer, not made by this run/);
    expect(resumed.stdout + resumed.stderr).toMatch(/this run made none/);
    expect(resumed.stdout + resumed.stderr).toContain(`close this run with \`octoha rollback ${c.planFile} --yes\``);
    expect(resumed.stdout + resumed.stderr).not.toMatch(/another config file \(--config\)/);
    // DEVBOX was neither pointed at the cluster's database nor started: the cluster still has two nodes.
    const devbox = c.standin.machines.machine("OCTO3").created;
    expect(devbox).toEqual([expect.objectContaining({ nodeName: "DEVBOX" })]);
    expect(devbox[0]!.serviceInstalled).toBeUndefined();
    expect(devbox[0]!.webListenPrefixes).toBeUndefined();
    expect(c.standin.machines.config("OCTO3", "OctopusServer").masterKey).toBeUndefined();
    expect(c.standin.cluster.nodes().map((n) => n.name)).toEqual(["OCTO1", "OCTO2"]);
    const again = await octoha(c, ["resume", c.planFile, "--yes"]);
    expect(again.code, again.stdout + again.stderr).toBe(3);
    expect(c.standin.cluster.nodes()).toHaveLength(2);
    // This run made nothing: its rollback undoes nothing and never tells the admin to delete DEVBOX's instance.
    const back = await octoha(c, ["rollback", c.planFile, "--yes"]);
    expect(back.code, back.stdout + back.stderr).toBe(4);
    expect(back.stdout).toMatch(/OCTO3: nothing to undo: this run made no instance there/);
    expect(back.stdout + back.stderr).not.toMatch(/delete-instance/);
    expect(c.standin.machines.machine("OCTO3").created).toEqual([expect.objectContaining({ nodeName: "DEVBOX" })]);
    // The run is closed: a new join is refused by its checks (exit 2), not by an unfinished run.
    const fresh = await join(c, "--yes");
    expect(fresh.code, fresh.stdout + fresh.stderr).toBe(2);
    expect(fresh.stderr).toMatch(/already has an Octopus instance named OctopusServer/);
  });

  it("a resume whose plan corrected the node's url after join-configure is refused; rollback --to join-configure, then resume, reconfigures", async (t) => {
    const c = await joinCase(t);
    const right = c.plan.nodes[2]!.url!;
    const wrongPort = await freePort();
    c.plan.nodes[2]!.url = `http://127.0.0.1:${wrongPort}`;
    await writeFile(c.planFile, JSON.stringify(c.plan, null, 2));
    expect(await inProcess(c, "run", (r) => r.t === "applied" && r.stepId === "join-configure")).toBe("killed");
    const prefixOf = () => c.standin.machines.machine("OCTO3").created[0]?.webListenPrefixes;
    expect(prefixOf()).toBe(`http://+:${wrongPort}/`);

    c.plan.nodes[2]!.url = right;
    await writeFile(c.planFile, JSON.stringify(c.plan, null, 2));
    const refused = await octoha(c, ["resume", c.planFile, "--yes"]);
    expect(refused.code, refused.stdout + refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/now configures OCTO3 differently from what join-configure of this run already set; nothing was done/);
    expect(refused.stderr).toContain(`--webListenPrefixes http://+:${wrongPort}/`);
    expect(refused.stderr).toContain(`rollback ${c.planFile} --to join-configure`);
    expect(c.standin.cluster.nodes()).toHaveLength(2);

    const back = await octoha(c, ["rollback", c.planFile, "--to", "join-configure", "--yes"]);
    expect(back.code, back.stdout + back.stderr).toBe(4);
    const resumed = await octoha(c, ["resume", c.planFile, "--yes"]);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(prefixOf()).toBe(`http://+:${new URL(right).port}/`);
    expectJoined(c);
  });

  it("a resume whose plan changed the url to one an existing node answers, before join-configure, is stopped before configure runs", async (t) => {
    const c = await joinCase(t);
    const right = c.plan.nodes[2]!.url!;
    expect(await inProcess(c, "run", (r) => r.t === "applied" && r.stepId === "join-database")).toBe("killed");
    c.plan.nodes[2]!.url = c.plan.nodes[1]!.url!.replace("127.0.0.1", "localhost");
    await writeFile(c.planFile, JSON.stringify(c.plan, null, 2));
    const refused = await octoha(c, ["resume", c.planFile, "--yes"]);
    expect(refused.code, refused.stdout + refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(/was answered by node OCTO2: it does not reach OCTO3 itself; join-configure did not run/);
    expect(refused.stderr).toMatch(/Set nodes\[\]\.url for OCTO3 to its own address/);
    expect(refused.stderr).not.toMatch(/JOIN_CONFIGURE_CHANGED|--to join-configure/);
    expect(c.standin.machines.machine("OCTO3").created[0]?.webListenPrefixes).toBeUndefined();
    expect(c.standin.cluster.nodes()).toHaveLength(2);
    // Its advice does not loop: with the url corrected, the resume configures and finishes.
    c.plan.nodes[2]!.url = right;
    await writeFile(c.planFile, JSON.stringify(c.plan, null, 2));
    const resumed = await octoha(c, ["resume", c.planFile, "--yes"]);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expectJoined(c);
  });

  it("rollback --to join-database refuses up front, saying what stays; --to join-configure stops the node and says what it left", async (t) => {
    const c = await joinCase(t);
    expect((await join(c, "--yes")).code).toBe(0);
    const refused = await octoha(c, ["rollback", c.planFile, "--to", "join-database", "--yes"]);
    expect(refused.code, refused.stdout + refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(
      /Step join-database refused to roll back: octoha cannot take the cluster's connection string and master key off OCTO3's instance/,
    );
    // Said once (the live line points at it), not twice.
    expect((refused.stdout + refused.stderr).match(/cannot take the cluster's connection string/g)).toHaveLength(1);
    expect((refused.stdout + refused.stderr).match(/delete-instance --instance OctopusServer/g)).toHaveLength(1);
    expect(refused.stderr).toMatch(/delete-instance --instance OctopusServer/);
    expect(refused.stderr).toMatch(/Nothing was undone/);
    expect(refused.stdout + refused.stderr).not.toMatch(/join-database: undone/);
    expect(c.standin.cluster.nodes().find((n) => n.name === "OCTO3")?.running).toBe(true);
    const status = await octoha(c, ["status", c.planFile]);
    expect(status.stdout).toMatch(/join-database\s+verified/);

    const partial = await octoha(c, ["rollback", c.planFile, "--to", "join-configure", "--yes"]);
    expect(partial.code, partial.stdout + partial.stderr).toBe(4);
    expect(partial.stdout).toMatch(/OCTO3: its service is stopped; it stays installed, and OCTO3 stays registered as a node/);
    expect(partial.stdout).toMatch(/OCTO3: nothing taken back: its listen prefix and polling port stay in its config/);
    expect(partial.stdout).not.toMatch(/join-database: undone/);
    expect(c.standin.cluster.nodes().find((n) => n.name === "OCTO3")?.running).toBe(false);
    expect((await octoha(c, ["status", c.planFile])).stdout).toMatch(/join-database\s+verified/);
    // Its closing lines say what stays applied and what to do next.
    expect(partial.stderr).toMatch(/Still applied: join-create-instance, join-database/);
    expect(partial.stderr).toMatch(/To apply the undone steps again and finish the run, run:\n\s+octoha resume \S+ --run \S+/);

    // Joining again points at that run's resume, with true statements (not "joined already", not "made before this run").
    const again = await join(c, "--yes");
    expect(again.code, again.stdout + again.stderr).toBe(2);
    expect(again.stderr).toMatch(
      /Join run \S+ of OCTO3 is not finished \(join-create-instance, join-database stay applied; join-configure, join-service undone by a rollback\)/,
    );
    expect(again.stderr).toMatch(/octoha resume \S+ --run \S+ --yes/);
    expect(again.stderr).not.toMatch(/joined already|ping answers 200|made there before/);
    const resumed = await octoha(c, ["resume", c.planFile, "--yes"]);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expectJoined(c);
  });

  it("a real SIGKILL of the octoha process after join-database, resumed from the command line", async (t) => {
    const c = await joinCase(t);
    const killed = await octoha(c, ["join", "OCTO3", "--plan", c.planFile, "--json", "--yes"], {
      killOn: { type: "step-applied", stepId: "join-database" },
    });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    expect(c.standin.cluster.nodes()).toHaveLength(2);
    const resumed = await octoha(c, ["resume", c.planFile, "--yes", "--json"]);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expectJoined(c);
    expectNoSecret(c, killed.stdout + killed.stderr + resumed.stdout + resumed.stderr, "octoha's output");
    expectNothingLeaked(c);
  });
});
