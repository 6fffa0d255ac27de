import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { E2E_TIMEOUT_MS } from "./harness.js";

describe("octoha demo", () => {
  it(
    "exits 0 and says every task log opens through every node",
    async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), "octoha-e2e-demo-"));
      try {
        // The demo wipes --dir only when an earlier demo made it: a fresh sub-folder.
        const r = await runCli(["demo", "--dir", path.join(dir, "demo"), "--tasks", "2"], { timeoutMs: E2E_TIMEOUT_MS - 10_000 });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toMatch(/After: OCTO1 opens (\d+) of \1 task logs; OCTO2 opens \1 of \1 task logs\./);
        expect(r.stderr).toContain("Demo finished: every task log opens through every node.");
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    E2E_TIMEOUT_MS,
  );
});
