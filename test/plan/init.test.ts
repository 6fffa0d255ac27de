import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parsePlan } from "../../src/plan/load.js";
import { cleanEnv, REPO, runCli, withTempDir } from "../helpers/cli.js";
import { resultOf } from "../helpers/envelope.js";

describe("octoha init", () => {
  it("writes a template that passes octoha check once its variables are set", async () =>
    withTempDir(async (dir) => {
      const result = await runCli(["init", "plan.json"], { cwd: dir });
      expect(result.code).toBe(0);
      expect(await readdir(dir)).toEqual(["plan.json"]);
      const raw = JSON.parse(await readFile(path.join(dir, "plan.json"), "utf8")) as { $schema: string };
      expect(parsePlan(raw).issues).toEqual([]);
      // The $schema reference resolves to the packaged schema from where the plan is.
      expect(path.resolve(dir, raw.$schema)).toBe(path.join(REPO, "plans", "octoha.schema.json"));
      const check = await runCli(["check", "plan.json", "--no-preflight"], {
        cwd: dir,
        env: cleanEnv({
          OCTOPUS_API_KEY: "API-INITKEY00000000000000",
          OCTOHA_SQL_CONNECTION_STRING: "Server=sql01;Database=Octopus;User Id=octoha_reader;Password=init-test-pw",
        }),
      });
      expect(check.code).toBe(0);
    }));

  it("refuses to overwrite an existing file (exit 2, file unchanged) unless --force", async () =>
    withTempDir(async (dir) => {
      const file = path.join(dir, "plan.json");
      await writeFile(file, "my edited plan");
      const refused = await runCli(["init", file], { cwd: dir });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("already exists");
      expect(refused.stderr).toContain("--force");
      expect(await readFile(file, "utf8")).toBe("my edited plan");
      const forced = await runCli(["init", file, "--force", "--json"], { cwd: dir });
      expect(forced.code).toBe(0);
      // ok: true is the envelope's (resultOf asserts it).
      expect(resultOf(forced.stdout, "init", 0)).toEqual({ file });
      expect(await readFile(file, "utf8")).toContain('"version": 1');
    }));
});
