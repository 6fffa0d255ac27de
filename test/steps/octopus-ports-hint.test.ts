/**
 * A node URL that another node answers: the hint's `octoha check` command names the plan file the
 * operator gave, quoted for the shell (createOctopusPorts passes it to the REST client), never a literal PLAN.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Plan, type PlanInput } from "../../src/plan/schema.js";
import { createOctopusPorts } from "../../src/steps/octopus-ports.js";
import { OctohaError } from "../../src/shared/errors.js";
import { nodeUrls, startTestStandin, type TestStandin } from "@octoha/standin/testing";

let s: TestStandin;
beforeEach(async () => {
  s = await startTestStandin();
});
afterEach(async () => {
  await s.close();
});

/** A plan on the stand-in whose OCTO2 url is mistyped as OCTO1's. */
function mistypedPlan(): Plan {
  const urls = nodeUrls(s);
  const [first, second] = Object.keys(urls);
  return Plan.parse({
    version: 1,
    octopus: { serverUrl: s.url, sql: { connectionString: { env: "OCTOHA_SQL_CONNECTION_STRING" } } },
    nodes: [
      { name: first!, url: urls[first!]!, control: { kind: "sc", host: "octo1.corp.local" } },
      { name: second!, url: urls[first!]!, control: { kind: "sc", host: "octo2.corp.local" } },
    ],
    shared: {
      taskLogs: { octopus: "\\\\fs01\\Octo\\TaskLogs" },
      artifacts: { octopus: "\\\\fs01\\Octo\\Artifacts" },
      packages: { octopus: "\\\\fs01\\Octo\\Packages" },
    },
  } satisfies PlanInput);
}

async function hintOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(OctohaError);
  expect((e as OctohaError).code).toBe("OCTOPUS_NODE_URL_OTHER_NODE");
  return (e as OctohaError).hint ?? "";
}

describe("a node URL another node answers", () => {
  it("says to run `octoha check` with the plan file the operator gave, quoted for the shell, never a literal PLAN", async () => {
    const plan = mistypedPlan();
    const second = plan.nodes[1]!.name;
    const planFile = "/srv/octoha/my plans/prod plan.json";
    const ports = createOctopusPorts(plan, { apiKey: s.apiKey, sqlConnectionString: "Server=x;Database=y;" }, { planFile });
    try {
      const hint = await hintOf(ports.nodes.ping(second));
      expect(hint).toContain(`then run \`octoha check "/srv/octoha/my plans/prod plan.json"\`.`);
      expect(hint).not.toContain("PLAN");
      // Where no plan file is known, no literal placeholder either.
      const bare = createOctopusPorts(plan, { apiKey: s.apiKey, sqlConnectionString: "Server=x;Database=y;" });
      const bareHint = await hintOf(bare.nodes.ping(second));
      expect(bareHint).toContain("then check the plan again with `octoha check`.");
      expect(bareHint).not.toContain("PLAN");
      await bare.inventory.close().catch(() => undefined);
    } finally {
      await ports.inventory.close().catch(() => undefined);
    }
  });
});
