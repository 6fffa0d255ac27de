import { describe, expect, it } from "vitest";
import { MACHINE_VERSION, runMachine, SETTLED_STATES } from "../../src/runner/machine.js";

describe("run machine", () => {
  it("every state reads like a runbook line (has a description)", () => {
    const states = Object.values(runMachine.root.states);
    expect(states.length).toBeGreaterThanOrEqual(10);
    for (const s of states) expect(s.description, `state ${s.key}`).toMatch(/\w{3,}.*\./);
  });

  it("the states the runner stops in exist, and a version is stamped for journaled snapshots", () => {
    for (const s of SETTLED_STATES) expect(Object.keys(runMachine.root.states)).toContain(s);
    expect(Number.isInteger(MACHINE_VERSION)).toBe(true);
  });
});
