/**
 * `octoha copy` SIGKILLed while it quarantines a losing copy (found by the kill soak, bench/soak):
 * the temp file it was writing under `.octoha/conflicts/<node>/` stayed there for good, because a
 * re-run sweeps dead temp files only from the target folders it lists. Re-running the same command
 * must leave no `*.octoha-tmp` anywhere and lose nothing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { makeHome } from "../../bench/make-home.mjs";
import { CLI, cleanEnv } from "../helpers/cli.js";
import { hashTree } from "./crash-harness.js";

const KILL_ON_OPEN = fileURLToPath(new URL("./fixtures/kill-on-open.mjs", import.meta.url));
const root = mkdtempSync(path.join(os.tmpdir(), "octoha-kill-quarantine-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const copy = (src: string, dst: string, node: string, kill?: object) =>
  spawnSync(process.execPath, [...(kill ? ["--import", KILL_ON_OPEN] : []), CLI, "copy", src, dst, "--node", node, "--json"], {
    env: cleanEnv(kill ? { E2E_KILL_ON_OPEN: JSON.stringify(kill) } : {}),
    encoding: "utf8",
    timeout: 120_000,
  });

describe("SIGKILL while quarantining a collision", () => {
  it("re-running the same copy removes the dead temp file in the quarantine and keeps both versions", async () => {
    const counts = { logs: 30, artifacts: 5, packages: 1 };
    const a = path.join(root, "OCTO1");
    const b = path.join(root, "OCTO2");
    const dst = path.join(root, "DST");
    makeHome({ out: a, preset: "tiny", node: 1, seed: 1, layout: "dirs", ...counts });
    makeHome({ out: b, preset: "tiny", node: 2, seed: 1, layout: "dirs", ...counts, collideWithNode: 1, collisions: 5 });
    expect(copy(a, dst, "OCTO1").status).toBe(0);
    const killed = copy(b, dst, "OCTO2", { suffix: ".octoha-tmp", includes: `${path.sep}conflicts${path.sep}` });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    const left = Object.keys(await hashTree(dst)).filter((p) => p.endsWith(".octoha-tmp"));
    expect(left.filter((p) => p.startsWith(".octoha/conflicts/OCTO2/")).length, "the kill landed while quarantining").toBeGreaterThan(0);

    const again = copy(b, dst, "OCTO2");
    expect(again.status, again.stderr).toBe(0);
    const after = await hashTree(dst);
    expect(Object.keys(after).filter((p) => p.endsWith(".octoha-tmp"))).toEqual([]);
    // Nothing lost: each node's file is at its name or quarantined under its node, with its bytes.
    for (const [node, src] of [
      ["OCTO1", a],
      ["OCTO2", b],
    ] as const) {
      for (const [rel, sha] of Object.entries(await hashTree(src))) {
        expect([after[rel], after[`.octoha/conflicts/${node}/${rel}`]], `${node} ${rel}`).toContain(sha);
      }
    }
  }, 180_000);
});
