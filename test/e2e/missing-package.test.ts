import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { scenarios, sharedFolder, unreadableLogs } from "./harness.js";

const scenario = scenarios();

describe("a package the database indexes but no node has", () => {
  it("stops the repair before any node starts (exit 1, naming it), leaves the nodes stopped in maintenance mode, and a resume after the file is restored completes", async () => {
    const s = await scenario();
    const { cluster } = s.standin;
    cluster.indexPackage({ packageId: "Acme.Ghost", version: "9.9.9" });

    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(1);
    expect(r.outcome?.failure).toMatchObject({ stepId: "verify-copy" });
    expect(`${r.outcome?.failure?.message}\n${r.outcome?.failure?.hint}`).toContain("Acme.Ghost 9.9.9");
    expect(r.outcome?.applied).not.toContain("start-services");
    const stopped = cluster.state();
    expect(stopped.nodes.map((n) => [n.name, n.running])).toEqual([
      ["OCTO1", false],
      ["OCTO2", false],
    ]);
    expect(stopped.isInMaintenanceMode).toBe(true);
    // No index row was dropped: nothing re-indexed, because no node started.
    expect(stopped.packages.map((p) => p.packageId)).toContain("Acme.Ghost");

    // The operator restores the file where the message says (shared storage: the copy steps are done), then resumes.
    expect(r.outcome?.failure?.hint).toContain(sharedFolder(s, "Packages"));
    const restored = path.join(sharedFolder(s, "Packages"), "Spaces-1", "feeds-builtin", "Acme.Ghost", "Acme.Ghost.9.9.9.zip");
    mkdirSync(path.dirname(restored), { recursive: true });
    writeFileSync(restored, "PK restored from backup\n");
    const resumed = await s.cli("resume", s.planFile, "--yes", "--json");
    expect(resumed.code, `${resumed.stderr}\n${JSON.stringify(resumed.outcome?.failure)}`).toBe(0);
    const after = cluster.state();
    expect(after.nodes.map((n) => [n.name, n.running, n.isDraining])).toEqual([
      ["OCTO1", true, false],
      ["OCTO2", true, false],
    ]);
    expect(after.isInMaintenanceMode).toBe(false);
    expect(await unreadableLogs(s)).toEqual([]);
  });
});
