import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { planJsonSchemaText } from "../../src/plan/json-schema.js";
import { parsePlan } from "../../src/plan/load.js";
import { cleanEnv, REPO, runCli } from "../helpers/cli.js";
import { resultOf } from "../helpers/envelope.js";

const PLANS = path.join(REPO, "plans");
const SECRET_KEY = "API-SAMPLEKEY1234567890ABCD";
const SECRET_SQL = "Server=sql01;Database=Octopus;User Id=octo;Password=Sample-Pa55word";

async function samplePlans(): Promise<string[]> {
  return (await readdir(PLANS)).filter((f) => f.endsWith(".json") && f !== "octoha.schema.json").sort();
}

describe("the sample plans in plans/", () => {
  it("cover a Windows UNC migration, a two-node repair and a Linux container", async () => {
    expect(await samplePlans()).toEqual(
      expect.arrayContaining(["migrate-linux-container.json", "migrate-windows-unc.json", "repair-two-nodes.json"]),
    );
  });

  it("each validates and points its $schema at the committed schema file", async () => {
    for (const name of await samplePlans()) {
      const raw = JSON.parse(await readFile(path.join(PLANS, name), "utf8")) as { $schema?: string };
      expect(parsePlan(raw).issues, name).toEqual([]);
      expect(raw.$schema, name).toBe("./octoha.schema.json");
    }
  });

  it("octoha check passes a sample plan (exit 0) when its variables are set, without echoing them", async () => {
    const result = await runCli(["check", path.join(PLANS, "repair-two-nodes.json"), "--no-preflight"], {
      env: cleanEnv({ OCTOPUS_API_KEY: SECRET_KEY, OCTOHA_SQL_CONNECTION_STRING: SECRET_SQL }),
    });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain("is valid");
    expect(result.stdout + result.stderr).not.toContain("SAMPLEKEY");
    expect(result.stdout + result.stderr).not.toContain("Sample-Pa55word");
  });

  it("octoha check names every unset variable at once (exit 2) and never prints a value", async () => {
    const result = await runCli(["check", path.join(PLANS, "migrate-windows-unc.json"), "--json"], {
      env: cleanEnv({ OCTOHA_SQL_CONNECTION_STRING: SECRET_SQL }),
    });
    expect(result.code).toBe(2);
    const report = resultOf<{
      ok: boolean;
      results: { findings: { code: string; summary: string; path?: string }[] }[];
    }>(result.stdout, "check", 2);
    expect(report.ok).toBe(false);
    const unset = report.results.flatMap((r) => r.findings).filter((f) => f.code === "ENV_UNSET");
    expect(unset.map((f) => f.path)).toEqual(["octopus.apiKey"]);
    expect(unset[0]!.summary).toContain("OCTOPUS_API_KEY");
    expect(result.stdout).not.toContain("Sample-Pa55word");
  });
});

describe("octoha schema", () => {
  it("prints the JSON Schema that is committed as plans/octoha.schema.json (run `npm run schema` when this fails)", async () => {
    const committed = await readFile(path.join(PLANS, "octoha.schema.json"), "utf8");
    expect(committed).toBe(planJsonSchemaText());
    const result = await runCli(["schema"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(committed);
  });

  it("rejects unknown keys everywhere, so editors flag typos", () => {
    const schema = JSON.parse(planJsonSchemaText()) as {
      additionalProperties?: boolean;
      properties: { options: { additionalProperties?: boolean } };
    };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.options.additionalProperties).toBe(false);
  });
});
