/**
 * Saved change sets through the real CLI against the stand-in: `dry-run --out changes.json` writes
 * one, `run --changes` applies it when nothing drifted and otherwise exits 2 with the diff, having
 * written nothing (no state directory, no lock, no journal).
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { fullSnapshot, scenarios, type Scenario } from "./harness.js";

const scenario = scenarios();

async function approve(s: Scenario, ...extra: string[]): Promise<string> {
  const file = path.join(s.root, "changes.json");
  const dry = await s.cli("dry-run", s.planFile, "--out", file, ...extra);
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stderr).toContain(`--changes ${file}`);
  return file;
}

/** `run --changes` refused: exit 2, the diff names `what`, and nothing was written for the run. */
async function expectDrift(s: Scenario, changes: string, what: RegExp, ...runArgs: string[]): Promise<string> {
  const clusterBefore = s.standin.cluster.state();
  const r = await s.cli("run", s.planFile, "--changes", changes, "--yes", ...runArgs);
  expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(2);
  expect(r.stderr).toMatch(/change set .* is stale/);
  expect(r.stderr).toMatch(what);
  // Said once: the drift list is the error's, not repeated under its hint.
  expect(r.stderr.match(new RegExp(what.source, "g")), r.stderr).toHaveLength(1);
  expect(r.stderr).toContain("Nothing was changed");
  expect(existsSync(s.stateDir), "run --changes created the state directory (lock, journal) on drift").toBe(false);
  const after = s.standin.cluster.state();
  expect(after.nodes.map((n) => [n.name, n.isDraining, n.running])).toEqual(
    clusterBefore.nodes.map((n) => [n.name, n.isDraining, n.running]),
  );
  expect(after.isInMaintenanceMode).toBe(clusterBefore.isInMaintenanceMode);
  return r.stderr;
}

async function approvedTaskLogs(changes: string, node: string): Promise<number> {
  const set = JSON.parse(await readFile(changes, "utf8")) as { facts: { copy: { kind: string; node: string; files: number }[] } };
  return set.facts.copy.find((c) => c.kind === "taskLogs" && c.node === node)!.files;
}

describe("saved change sets (`dry-run --out changes.json`, `run --changes changes.json`)", () => {
  it("an approved change set with nothing drifted is applied: the migration runs to the end", async () => {
    const s = await scenario();
    const changes = await approve(s);
    const set = JSON.parse(await readFile(changes, "utf8")) as Record<string, unknown>;
    expect(set).toMatchObject({
      kind: "octoha-change-set",
      version: 1,
      workflow: "migrate",
      tolerance: { copyGrowthPercent: 10 },
      blocked: false,
    });
    expect(set["checksum"]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(set["facts"]).toMatchObject({ octopusVersion: s.standin.cluster.version, maintenance: false });
    expect((set["changes"] as { step: string }[]).some((c) => c.step === "repath")).toBe(true);

    const run = await s.cli("run", s.planFile, "--changes", changes, "--yes", "--json");
    expect(run.code, run.stderr).toBe(0);
    expect(run.outcome?.status).toBe("done");
    expect(s.standin.cluster.state().folders.taskLogs).toBe(s.plan.shared.taskLogs!.octopus);
  });

  it("the change set holds no secret: neither the API key, nor the SQL connection string, nor its password", async () => {
    const s = await scenario();
    const text = await readFile(await approve(s), "utf8");
    const connection = s.standin.sqlConnectionString!;
    const password = /password=([^;]+)/i.exec(connection)?.[1];
    expect(password, "the stand-in's connection string has a password").toBeTruthy();
    expect(text).not.toContain(s.standin.apiKey);
    expect(text).not.toContain(connection);
    expect(text).not.toContain(password!);
  });

  it("Octopus upgraded, a node joined, a node drained: exit 2 naming each, nothing written", async () => {
    const s = await scenario();
    const changes = await approve(s);
    const before = s.standin.cluster.version;
    s.standin.cluster.upgrade("2024.2.999");
    s.standin.cluster.joinNode("OCTO9");
    s.standin.cluster.updateNode("OCTO2", { isDraining: true });
    const stderr = await expectDrift(s, changes, new RegExp(`Octopus version: ${before.replace(/\./g, "\\.")} → 2024\\.2\\.999`));
    expect(stderr).toMatch(/node OCTO9: absent → present, not draining/);
    expect(stderr).toMatch(/node OCTO2: present, not draining, task cap \d+ → present, draining/);
  });

  it("maintenance mode switched on since the dry-run: exit 2 naming it", async () => {
    const s = await scenario();
    const changes = await approve(s);
    s.standin.cluster.setMaintenanceMode(true);
    await expectDrift(s, changes, /maintenance mode: off → on/);
    // Machines get the same diff as data.
    const json = await s.cli("run", s.planFile, "--changes", changes, "--yes", "--json");
    expect(json.code).toBe(2);
    expect(json.envelope).toMatchObject({
      type: "error",
      error: {
        code: "CHANGE_SET_DRIFT",
        details: { drift: [{ what: "maintenance mode", approved: "off", now: "on" }], tolerance: { copyGrowthPercent: 10 } },
      },
    });
    expect(existsSync(s.stateDir)).toBe(false);
  });

  it("Octopus's server folders changed since the dry-run: exit 2 naming the folder", async () => {
    const s = await scenario();
    const changes = await approve(s);
    s.standin.cluster.setFolders({ artifacts: "D:\\Octopus\\Artifacts" });
    await expectDrift(s, changes, /server folder artifacts: C:\\Octopus\\Artifacts → D:\\Octopus\\Artifacts/);
  });

  it("files to copy grew beyond the tolerance: exit 2 with the counts and the tolerance", async () => {
    const s = await scenario();
    const changes = await approve(s, "--copy-tolerance", "60");
    const approved = await approvedTaskLogs(changes, "OCTO1");
    for (let i = 0; i < approved * 2; i++)
      s.standin.cluster.writeFile("OCTO1", `C:\\Octopus\\TaskLogs\\servertasks-95${i}.log.txt`, `late log ${i}\n`);
    const stderr = await expectDrift(
      s,
      changes,
      /taskLogs from OCTO1 \(files to copy\): \d+ → \d+ \(\+\d+%; tolerance \+60%, at most \d+\)/,
    );
    expect(stderr).toMatch(/files to copy may grow by 60%/);
  });

  it("files to copy grew within the tolerance: the migration runs and copies the late file too", async () => {
    const s = await scenario();
    const changes = await approve(s, "--copy-tolerance", "60");
    expect(await approvedTaskLogs(changes, "OCTO1")).toBeGreaterThan(1);
    s.standin.cluster.writeFile("OCTO1", "C:\\Octopus\\TaskLogs\\servertasks-9001.log.txt", "a log that arrived after the approval\n");
    const run = await s.cli("run", s.planFile, "--changes", changes, "--yes", "--json");
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(path.join(s.standin.dataDir, "shared", "TaskLogs", "servertasks-9001.log.txt"))).toBe(true);
  });

  it("a preseed change set: late task logs within the tolerance still run; the preseed copies them", async () => {
    const s = await scenario();
    const changes = await approve(s, "--workflow", "preseed", "--copy-tolerance", "100");
    s.standin.cluster.writeFile("OCTO1", "C:\\Octopus\\TaskLogs\\servertasks-9001.log.txt", "a log that arrived after the approval\n");
    const run = await s.cli("run", s.planFile, "--phase", "preseed", "--changes", changes, "--yes", "--json");
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(path.join(s.standin.dataDir, "shared", "TaskLogs", "servertasks-9001.log.txt"))).toBe(true);
  });

  it("a change set for another workflow, hand-edited, damaged, of an unknown version or for a changed plan is refused with exit 2", async () => {
    const s = await scenario();
    const changes = await approve(s);
    const original = await readFile(changes, "utf8");
    const run = () => s.cli("run", s.planFile, "--changes", changes, "--yes");
    let r = await s.cli("run", s.planFile, "--phase", "preseed", "--changes", changes, "--yes");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/approved for the migrate workflow, not preseed/);
    const edited = JSON.parse(original) as { tolerance: { copyGrowthPercent: number }; version: number };

    edited.tolerance.copyGrowthPercent = 1000;
    await writeFile(changes, JSON.stringify(edited));
    r = await run();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/was changed after it was written \(its checksum does not match/);

    await writeFile(changes, original.slice(0, original.length / 2));
    r = await run();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not valid JSON/);

    await writeFile(changes, JSON.stringify({ ...(JSON.parse(original) as object), version: 2 }));
    r = await run();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/format version 2; this octoha reads version 1/);

    // Re-indented by an editor: still the approved content.
    await writeFile(changes, JSON.stringify(JSON.parse(original), null, 4));
    const planText = await readFile(s.planFile, "utf8");
    await writeFile(s.planFile, planText.replace(/\n$/, "\n\n"));
    const before = fullSnapshot(s.standin.dataDir);
    await expectDrift(s, changes, /plan file \(sha256\): [0-9a-f]{64} → [0-9a-f]{64}/);
    expect(fullSnapshot(s.standin.dataDir)).toEqual(before);
    expect(existsSync(s.stateDir)).toBe(false);
  });
});
