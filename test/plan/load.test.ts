import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadPlan, resolveStateDir } from "../../src/plan/load.js";
import { withTempDir } from "../helpers/cli.js";
import { windowsPlan } from "./fixtures.js";

describe("loadPlan", () => {
  it("reads a plan saved by Notepad with a UTF-8 byte-order mark", async () =>
    withTempDir(async (dir) => {
      const file = path.join(dir, "plan.json");
      await writeFile(file, `\uFEFF${JSON.stringify(windowsPlan())}`);
      const loaded = await loadPlan(file);
      expect(loaded.plan.nodes.map((n) => n.name)).toEqual(["OCTO1", "OCTO2"]);
      expect(loaded.stateDir).toBe(path.join(dir, ".octoha"));
    }));
});

describe("resolveStateDir", () => {
  it("keeps a UNC state directory whole, resolves a relative one next to the plan", () => {
    expect(resolveStateDir("/plans/p.json", "\\\\fs01\\OctopusShared\\.octoha")).toBe("\\\\fs01\\OctopusShared\\.octoha");
    expect(resolveStateDir("/plans/p.json", "state")).toBe(path.resolve("/plans/state"));
    expect(resolveStateDir("/plans/p.json", "/mnt/octoshared/.octoha/")).toBe("/mnt/octoshared/.octoha/");
  });
});
