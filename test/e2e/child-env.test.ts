/**
 * Octopus.Server.exe and the plan's service recipes run as children of octoha: they must not
 * inherit the API key or the SQL connection string (or any variable the plan reads a secret from).
 * Every executable in the plan is wrapped by a recorder that writes its environment to a file and
 * then runs the stand-in's executable, so the run itself is real.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { scenarios } from "./harness.js";

const scenario = scenarios();

/** A script that records its environment (one file per run) and then executes `target`. */
function recorder(dir: string, label: string, target: string): string {
  const file = path.join(dir, `record-${label}`);
  writeFileSync(file, `#!/bin/sh\nenv > '${dir}/env-${label}-'$$.txt\nexec '${target}' "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

describe("child processes and secrets", () => {
  it("Octopus.Server.exe and service recipes get octoha's environment without the API key, OCTOPUS_API_KEY or the SQL connection string", async () => {
    const otherKey = "API-OTHERKEY0123456789ABCDEF";
    let records = "";
    const s = await scenario({
      octoha: "child", // the subject is what a real octoha process hands its children
      env: { OCTOPUS_API_KEY: otherKey, OCTOHA_CHILD_MARKER: "inherited" },
      editPlan: (plan, root) => {
        records = path.join(root, "records");
        mkdirSync(records);
        plan.octopus.serverExe = recorder(records, "server", plan.octopus.serverExe!);
        for (const node of plan.nodes) {
          if (node.control?.kind !== "argv") throw new Error("the demo plan's nodes use the argv recipe");
          const svc = node.control;
          node.control = {
            kind: "argv",
            stop: [recorder(records, `stop-${node.name}`, svc.stop[0]!), ...svc.stop.slice(1)],
            start: [recorder(records, `start-${node.name}`, svc.start[0]!), ...svc.start.slice(1)],
          };
        }
      },
    });
    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);

    const files = readdirSync(records).filter((f) => f.startsWith("env-"));
    // show-configuration and path (server), and a stop and a start on each node.
    for (const label of ["server", "stop-OCTO1", "stop-OCTO2", "start-OCTO1", "start-OCTO2"]) {
      expect(
        files.some((f) => f.startsWith(`env-${label}-`)),
        `${label} never ran`,
      ).toBe(true);
    }
    const secretNames = [s.plan.octopus.apiKey!.env, s.plan.octopus.sql.connectionString.env, "OCTOPUS_API_KEY"];
    const secretValues = [s.standin.apiKey, s.standin.sqlConnectionString!, otherKey];
    for (const f of files) {
      const text = readFileSync(path.join(records, f), "utf8");
      const names = text.split("\n").map((l) => l.split("=")[0]);
      expect(names, f).toContain("OCTOHA_CHILD_MARKER");
      for (const name of secretNames) expect(names, `${f} inherited ${name}`).not.toContain(name);
      for (const value of secretValues) expect(text.includes(value), `${f} holds a secret value`).toBe(false);
    }
  });
});
