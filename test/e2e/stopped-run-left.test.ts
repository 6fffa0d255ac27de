/**
 * A run that stops without failing (an approval nobody gave, Ctrl-C) may leave the cluster drained,
 * in maintenance mode or stopped. Found by probing as an outsider: `octoha repair plan.json` from a
 * shell without a terminal (no --yes) drained every node, then stopped at maintenance-on's approval
 * gate saying only "waiting for approval; nothing more was changed": not that every node now takes
 * no new tasks until the run is resumed or rolled back. A failed run already said what it left.
 */
import { describe, expect, it } from "vitest";
import { scenarios } from "./harness.js";

const scenario = scenarios();

describe("a run stopped at an approval gate", () => {
  it("says what it left in place (every node draining) before the command that continues it", async () => {
    const s = await scenario();
    const r = await s.cli("repair", s.planFile);
    expect(r.code, r.stderr).toBe(3);
    const text = r.stdout + r.stderr;
    expect(text).toContain("is waiting for approval; nothing more was changed.");
    expect(text).toContain("As the run left it: every node is draining (takes no new tasks).\nTo continue, run:");
    expect(s.standin.cluster.nodes().every((n) => n.isDraining)).toBe(true);

    const json = await s.cli("resume", s.planFile, "--json");
    expect(json.code, json.stderr).toBe(3);
    expect(json.outcome).toMatchObject({ status: "awaiting-approval", leftInPlace: "every node is draining (takes no new tasks)" });
  });
});
