/**
 * Issue 12 end to end: every node is its own machine, reached through its control recipe. The sc,
 * powershell and ssh look-alikes map HOST to the stand-in node of that name and act only through that
 * node's own Octopus.Server executable; octoha runs as the operator runs it.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it, vi, type TestContext } from "vitest";
import { writeNodeControlLookalikes, type HostFault, type NodeControlLookalikes } from "@octoha/standin/testing";
import type { NodeControl } from "../../src/plan/schema.js";
import { E2E_TIMEOUT_MS, startScenario, unreadableLogs, type Scenario, type ScenarioOptions } from "./harness.js";

vi.setConfig({ testTimeout: E2E_TIMEOUT_MS });

/**
 * Each test's own cluster, tools and temp dir (the tests run concurrently), closed when that test ends. Started
 * nodes answer 503 for 300 ms, not 2 s: the start wait is still exercised, but it is not these tests' subject.
 */
async function scenario(t: Pick<TestContext, "onTestFinished">, o: ScenarioOptions = {}): Promise<Scenario> {
  const s = await startScenario({ ...o, standin: { startupMs: 300, ...o.standin } });
  t.onTestFinished(() => s.close());
  return s;
}

const RECIPES: Record<"sc" | "winrm" | "ssh", (host: string) => NodeControl> = {
  sc: (host) => ({ kind: "sc", host }),
  winrm: (host) => ({ kind: "winrm", host }),
  ssh: (host) => ({ kind: "ssh", host, user: "octoha", sudo: true }),
};

/** Gives every node the recipe, the plan the look-alikes as its tools, and writes the plan again. */
async function withRecipe(s: Scenario, kind: keyof typeof RECIPES, options: Record<string, unknown> = {}): Promise<NodeControlLookalikes> {
  const tools = writeNodeControlLookalikes(path.join(s.root, "tools"), s.standin);
  s.plan.nodes = s.plan.nodes.map((n) => ({ ...n, control: RECIPES[kind](n.name) }));
  s.plan.options = { ...s.plan.options, tools: { sc: tools.sc, powershell: tools.powershell, ssh: tools.ssh }, ...options };
  await writeFile(s.planFile, `${JSON.stringify(s.plan, null, 2)}\n`);
  return tools;
}

const running = (s: Scenario) => s.standin.cluster.state().nodes.map((n) => [n.name, n.running]);

describe.concurrent("a multi-node plan must say how each node is reached", () => {
  it("the old default (this machine's Octopus.Server.exe for every node) is refused with exit 2, naming nodes[i], nothing changed", async (t) => {
    const s = await scenario(t);
    s.plan.nodes = s.plan.nodes.map(({ control: _drop, ...n }) => n);
    await writeFile(s.planFile, JSON.stringify(s.plan));
    const before = s.standin.cluster.state();
    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(2);
    for (const i of [0, 1]) expect(r.stderr).toContain(`nodes[${i}].control`);
    expect(r.stderr).toContain("would stop this machine 2 times and never reach the others");
    expect(r.stderr).toContain('"kind": "sc"');
    const after = s.standin.cluster.state();
    expect(after.isInMaintenanceMode).toBe(before.isInMaintenanceMode);
    const facts = (st: typeof before) => st.nodes.map((n) => [n.name, n.running, n.isDraining, n.maxConcurrentTasks, n.effectiveFolders]);
    expect(facts(after)).toEqual(facts(before));
    expect(after.folders).toEqual(before.folders);
    expect(existsSync(s.stateDir)).toBe(false);
  });
});

describe.concurrent.each(["sc", "winrm", "ssh"] as const)("a two-node repair through the %s recipe", (kind) => {
  it("stops and starts each node on its own machine, and every task log then opens through every node", async (t) => {
    const s = await scenario(t);
    const tools = await withRecipe(s, kind);
    expect((await unreadableLogs(s)).length).toBeGreaterThan(0);

    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(await unreadableLogs(s)).toEqual([]);
    expect(running(s)).toEqual([
      ["OCTO1", true],
      ["OCTO2", true],
    ]);

    const calls = tools.calls();
    const acts = calls.map((c) => actionOf(c.tool, c.argv)).filter((a) => a.action === "stop" || a.action === "start");
    expect(acts).toEqual([
      { host: "OCTO1", action: "stop" },
      { host: "OCTO2", action: "stop" },
      { host: "OCTO1", action: "start" },
      { host: "OCTO2", action: "start" },
    ]);
    if (kind === "sc") {
      // sc stop returns at STOP_PENDING: octoha queried OCTO1 before going on to OCTO2.
      const i = calls.findIndex((c) => c.argv[1] === "stop");
      expect(calls[i + 1]?.argv.slice(0, 3)).toEqual(["\\\\OCTO1", "query", "OctopusDeploy"]);
    }
  });
});

/** Which host a look-alike call acted on, and how. */
function actionOf(tool: string, argv: string[]): { host: string; action: string } {
  if (tool === "sc") return { host: argv[0]!.slice(2), action: argv[1]! };
  if (tool === "powershell") {
    const script = argv[argv.length - 1]!;
    const host = /-ComputerName '([^']+)'/.exec(script)?.[1] ?? "?";
    return { host, action: /service --(stop|start)/.exec(script)?.[1] ?? "status" };
  }
  const at = argv.findIndex((a) => a.includes("@"));
  return { host: argv[at]!.split("@")[1]!, action: argv[argv.length - 2]! };
}

const FAILURES: [keyof typeof RECIPES, HostFault, Record<string, unknown>, string, RegExp, RegExp][] = [
  ["sc", "denied", {}, "NODE_CONTROL_DENIED", /access denied by OCTO2's service manager/, /local admin rights on OCTO2/],
  ["sc", "unreachable", {}, "NODE_CONTROL_UNREACHABLE", /RPC server is unavailable/, /firewall/],
  ["sc", "no-service", {}, "NODE_CONTROL_NO_SERVICE", /service 'OctopusDeploy' does not exist on OCTO2/, /instance\/service name/],
  ["sc", "hang", { serviceCommandTimeoutSeconds: 3 }, "NODE_CONTROL_TIMEOUT", /did not finish within 3 s and was killed/, /Try it by hand/],
  ["winrm", "denied", {}, "NODE_CONTROL_DENIED", /WinRM access denied by OCTO2/, /local administrator on OCTO2/],
  ["winrm", "unreachable", {}, "NODE_CONTROL_UNREACHABLE", /cannot reach OCTO2 over WinRM/, /5985/],
  ["ssh", "sudo-password", {}, "NODE_CONTROL_DENIED", /sudo on OCTO2 asked for a password/, /passwordless sudo/],
  // systemd says "inactive" for a unit it does not have, while the node still answers: refused before any stop.
  ["ssh", "no-service", {}, "NODE_STOPPED_BUT_ANSWERS", /says stopped \(inactive\) but the node still answers/, /check nodes\[\]\.control/],
];

describe.concurrent("a recipe failing on one node stops the run resumably (exit 3) with the node, the cause and the fix", () => {
  it.for(FAILURES)("%s, OCTO2 %s", async ([kind, fault, options, code, why, fix], t) => {
    const s = await scenario(t);
    const tools = await withRecipe(s, kind, options);
    tools.setFault("OCTO2", fault);
    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(3);
    const text = r.stdout + r.stderr;
    expect(text).toContain("OCTO2");
    expect(text).toMatch(why);
    expect(text).toMatch(fix);
    expect(text).toContain(code);
    if (code !== "NODE_STOPPED_BUT_ANSWERS") expect(text).toContain("Try it by hand from this machine:");
    if (fault !== "sudo-password") {
      // Read before anything was stopped: no node is left half-done.
      expect(running(s)).toEqual([
        ["OCTO1", true],
        ["OCTO2", true],
      ]);
    }
    if (kind === "sc" && fault === "denied") {
      // Fixed on the node, the same run goes on and completes.
      tools.setFault("OCTO2", undefined);
      const resumed = await s.cli("resume", s.planFile, "--yes", "--json");
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(await unreadableLogs(s)).toEqual([]);
    }
  });
});

describe.concurrent("check and dry-run read each node's service read-only, two ways", () => {
  it("check: 'reachable, running' per node, or exactly why not", async (t) => {
    const s = await scenario(t);
    const tools = await withRecipe(s, "sc");
    const ok = await s.cli("check", s.planFile, "--json");
    const findings = (ok.result as { results: { findings: { code: string; node?: string; summary: string }[] }[] }).results.flatMap(
      (x) => x.findings,
    );
    expect(findings.filter((f) => f.code === "NODE_SERVICE_RUNNING").map((f) => [f.node, f.summary])).toEqual([
      ["OCTO1", "Node OCTO1: reachable, running (4  RUNNING; answers its ping)"],
      ["OCTO2", "Node OCTO2: reachable, running (4  RUNNING; answers its ping)"],
    ]);

    tools.setFault("OCTO2", "denied");
    const denied = await s.cli("check", s.planFile, "--json");
    const f2 = (denied.result as { results: { findings: { code: string; node?: string; fix?: string }[] }[] }).results
      .flatMap((x) => x.findings)
      .filter((f) => f.node === "OCTO2" && f.code.startsWith("NODE_CONTROL"));
    expect(f2).toMatchObject([{ code: "NODE_CONTROL_DENIED" }]);
    expect(f2[0]!.fix).toContain("local admin rights on OCTO2");
    expect(denied.code).not.toBe(0);
    expect(running(s)).toEqual([
      ["OCTO1", true],
      ["OCTO2", true],
    ]);
  });

  it("check: a node URL that another node answers is an error finding that names both, once, and nothing is changed", async (t) => {
    const s = await scenario(t);
    await withRecipe(s, "sc"); // the service check pings each node too: the finding is said once
    // OCTO2's URL mistyped: another name for OCTO1's address (plan validation refuses the very same address).
    s.plan.nodes[1]!.url = s.plan.nodes[0]!.url!.replace("127.0.0.1", "localhost");
    await writeFile(s.planFile, JSON.stringify(s.plan));
    const r = await s.cli("check", s.planFile, "--json");
    const findings = (
      r.result as { results: { findings: { code: string; node?: string; severity: string; summary: string; fix?: string }[] }[] }
    ).results.flatMap((x) => x.findings);
    const wrong = findings.filter((f) => f.code === "NODE_URL_OTHER_NODE");
    expect(wrong).toMatchObject([{ node: "OCTO2", severity: "error" }]);
    expect(wrong[0]!.summary).toMatch(/^Node OCTO2's URL \(.*\) was answered by node OCTO1: it does not reach OCTO2 itself\.$/);
    expect(wrong[0]!.fix).toContain("nodes[].url for OCTO2");
    expect(findings.filter((f) => f.code === "NODE_PING").map((f) => f.node)).toEqual(["OCTO1"]);
    expect(r.code).toBe(1);
    expect(running(s)).toEqual([
      ["OCTO1", true],
      ["OCTO2", true],
    ]);
  });

  it("repair: a node URL that another node answers stops the run at its preflight, before anything is changed", async (t) => {
    const s = await scenario(t);
    await withRecipe(s, "sc");
    s.plan.nodes[1]!.url = s.plan.nodes[0]!.url!.replace("127.0.0.1", "localhost");
    await writeFile(s.planFile, JSON.stringify(s.plan));
    const before = s.standin.cluster.state();
    const r = await s.cli("repair", s.planFile, "--yes");
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("Preflight found 1 problem; nothing was changed");
    expect(r.stderr).toMatch(/Node OCTO2's URL \(.*\) was answered by node OCTO1: it does not reach OCTO2 itself\./);
    const after = s.standin.cluster.state();
    expect(after.isInMaintenanceMode).toBe(before.isInMaintenanceMode);
    const facts = (st: typeof before) => st.nodes.map((n) => [n.name, n.running, n.isDraining, n.maxConcurrentTasks, n.effectiveFolders]);
    expect(facts(after)).toEqual(facts(before));
    expect(after.folders).toEqual(before.folders);
  });

  it("dry-run: a node URL that another node answers is an error finding, said once", async (t) => {
    const s = await scenario(t);
    await withRecipe(s, "sc");
    s.plan.nodes[1]!.url = s.plan.nodes[0]!.url!.replace("127.0.0.1", "localhost");
    await writeFile(s.planFile, JSON.stringify(s.plan));
    const r = await s.cli("dry-run", s.planFile, "--format", "json");
    const report = r.result as { findings?: { code: string; node?: string; severity: string }[]; report?: { findings: unknown[] } };
    const findings = (report.findings ?? (report.report?.findings as typeof report.findings) ?? []).filter(
      (f) => f.code === "NODE_URL_OTHER_NODE",
    );
    expect(findings).toMatchObject([{ node: "OCTO2", severity: "error" }]);
    expect(r.code).toBe(1);
  });

  it("dry-run: a node whose service manager says stopped while its URL still answers is an error finding", async (t) => {
    const s = await scenario(t);
    await withRecipe(s, "sc");
    // OCTO2's recipe wrongly reaches OCTO1's machine; OCTO1 is stopped, OCTO2 still serves.
    s.plan.nodes[1]!.control = { kind: "sc", host: "OCTO1" };
    await writeFile(s.planFile, JSON.stringify(s.plan));
    s.standin.cluster.stopNode("OCTO1");
    const r = await s.cli("dry-run", s.planFile, "--format", "json");
    const report = r.result as { findings?: { code: string; node?: string; severity: string }[]; report?: { findings: unknown[] } };
    const findings = (report.findings ?? (report.report?.findings as typeof report.findings) ?? []).filter((f) => f.node === "OCTO2");
    expect(findings).toContainEqual(expect.objectContaining({ code: "NODE_STOPPED_BUT_ANSWERS", severity: "error" }));
    expect(r.code).toBe(1);
  });
});

describe.concurrent("more nodes, the migration and a rollback through the remote recipes", () => {
  it("a three-node repair through sc reaches each node once for stop and once for start", async (t) => {
    const s = await scenario(t, { standin: { nodes: 3, seedTasks: 2 } });
    const tools = await withRecipe(s, "sc");
    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(await unreadableLogs(s)).toEqual([]);
    const acts = tools
      .calls()
      .filter((c) => c.argv[1] === "stop" || c.argv[1] === "start")
      .map((c) => `${c.argv[1]} ${c.argv[0]}`);
    expect(acts).toEqual(["stop \\\\OCTO1", "stop \\\\OCTO2", "stop \\\\OCTO3", "start \\\\OCTO1", "start \\\\OCTO2", "start \\\\OCTO3"]);
  });

  it("a two-node migration (`run`) through winrm repoints Octopus with every node restarted on the shared folders", async (t) => {
    const s = await scenario(t);
    await withRecipe(s, "winrm");
    const r = await s.cli("run", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    const state = s.standin.cluster.state();
    expect(state.nodes.map((n) => [n.name, n.running, n.effectiveFolders.taskLogs])).toEqual([
      ["OCTO1", true, "\\\\fs01\\OctopusShared\\TaskLogs"],
      ["OCTO2", true, "\\\\fs01\\OctopusShared\\TaskLogs"],
    ]);
  });

  it("a failed repair rolled back through sc starts the nodes it stopped, on their own machines (exit 4)", async (t) => {
    const s = await scenario(t);
    const tools = await withRecipe(s, "sc");
    s.standin.http.executableFaults.failPath = true;
    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).not.toBe(0);
    expect(running(s)).toEqual([
      ["OCTO1", false],
      ["OCTO2", false],
    ]);
    delete s.standin.http.executableFaults.failPath;
    const rb = await s.cli("rollback", s.planFile, "--yes", "--json");
    expect(rb.code, `${rb.stdout}\n${rb.stderr}`).toBe(4);
    expect(running(s)).toEqual([
      ["OCTO1", true],
      ["OCTO2", true],
    ]);
    const starts = tools.calls().filter((c) => c.argv[1] === "start");
    expect(starts.map((c) => c.argv[0])).toEqual(["\\\\OCTO1", "\\\\OCTO2"]);
  });
});

// The matrix: repair and migrate with three nodes through sc, WinRM and free-form argv (the
// demo plan's own recipe: each node's own Octopus.Server), every node stopped and started on its machine.
describe.concurrent.each(["sc", "winrm", "argv"] as const)("three nodes through the %s recipe", (kind) => {
  it.for([
    ["repair", "repair"],
    ["migration", "run"],
  ] as const)("a %s ends with every node running and every task log open through every node", async ([_name, verb], t) => {
    const s = await scenario(t, { standin: { nodes: 3, seedTasks: 2 } });
    if (kind !== "argv") await withRecipe(s, kind);
    else expect(s.plan.nodes.map((n) => n.control?.kind)).toEqual(["argv", "argv", "argv"]);
    const r = await s.cli(verb, s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(await unreadableLogs(s)).toEqual([]);
    const state = s.standin.cluster.state();
    expect(state.nodes.map((n) => [n.name, n.running, n.effectiveFolders.taskLogs])).toEqual(
      ["OCTO1", "OCTO2", "OCTO3"].map((name) => [name, true, "\\\\fs01\\OctopusShared\\TaskLogs"]),
    );
  });
});

it.concurrent("a two-node migration (`run`) through sc ends with both nodes on the shared folders", async (t) => {
  const s = await scenario(t);
  await withRecipe(s, "sc");
  const r = await s.cli("run", s.planFile, "--yes", "--json");
  expect(r.code, r.stderr).toBe(0);
  expect(await unreadableLogs(s)).toEqual([]);
  expect(s.standin.cluster.state().nodes.map((n) => [n.name, n.running, n.effectiveFolders.taskLogs])).toEqual([
    ["OCTO1", true, "\\\\fs01\\OctopusShared\\TaskLogs"],
    ["OCTO2", true, "\\\\fs01\\OctopusShared\\TaskLogs"],
  ]);
});
