/** database.moveTo in the plan: an env reference only, its own variable, every node reachable for `database`, values checked. */
import { describe, expect, it } from "vitest";
import { parsePlan } from "../../src/plan/load.js";
import { Plan } from "../../src/plan/schema.js";
import { databaseMoveProblems, requireSecrets, resolveSecrets } from "../../src/plan/secrets.js";
import { Redactor } from "../../src/shared/redact.js";
import { windowsPlan, type Loose } from "./fixtures.js";

const OLD = "Server=db1;Database=Octopus;User Id=octopus;Password=Old-Secret-1";
const NEW = "Server=ag-listener,1433;Database=Octopus;User Id=octopus;Password=New-Secret-2;MultiSubnetFailover=True";

/** A Windows plan whose nodes run `database` through winrm, moving to OCTOHA_NEW_SQL. */
function movingPlan(edit: (p: Loose) => void = () => {}): Loose {
  const p = windowsPlan() as Loose;
  p.nodes = p.nodes.map((n: Loose) => ({ ...n, control: { kind: "winrm", host: n.name } }));
  p.database = { moveTo: { env: "OCTOHA_NEW_SQL" } };
  edit(p);
  return p;
}

const issuesOf = (plan: unknown) => parsePlan(plan).issues;

describe("database.moveTo in the plan", () => {
  it("is valid with an env reference and nodes reached through winrm or argv with serverExe", () => {
    expect(issuesOf(movingPlan())).toEqual([]);
    const argv = movingPlan((p) => {
      p.nodes[1].control = {
        kind: "argv",
        stop: ["stop"],
        start: ["start"],
        serverExe: ["docker", "exec", "octo2", "/Octopus/Octopus.Server"],
      };
    });
    expect(issuesOf(argv)).toEqual([]);
  });

  it("refuses the connection string written inline, without echoing it, telling to use an env reference", () => {
    const issues = issuesOf(movingPlan((p) => (p.database.moveTo = NEW)));
    const text = JSON.stringify(issues);
    expect(text).not.toContain("New-Secret-2");
    expect(issues.some((i) => i.path === "database.moveTo" && /env/.test(`${i.message} ${i.fix ?? ""}`))).toBe(true);
  });

  it("refuses naming the same variable as octopus.sql.connectionString: the nodes would stay where they are", () => {
    const issues = issuesOf(movingPlan((p) => (p.database.moveTo = { env: "OCTOHA_SQL_CONNECTION_STRING" })));
    expect(issues).toEqual([
      expect.objectContaining({
        path: "database.moveTo",
        message: expect.stringContaining("octopus.sql.connectionString"),
        fix: expect.stringContaining("variable of its own"),
      }),
    ]);
  });

  it("names every node whose recipe cannot run Octopus.Server.exe database, and the recipes that can", () => {
    const p = movingPlan((x) => {
      x.nodes[0].control = { kind: "sc", host: "OCTO1" };
      x.nodes[1].control = { kind: "argv", stop: ["stop"], start: ["start"] };
    });
    const issues = issuesOf(p);
    expect(issues.map((i) => i.path)).toEqual(["nodes[0].control", "nodes[1].control.serverExe"]);
    expect(issues[0]!.message).toContain("OCTO1");
    expect(issues[0]!.fix).toContain('"kind": "winrm"');
    expect(issues[1]!.fix).toContain("serverExe");
  });
});

describe("database.moveTo's values", () => {
  const plan = () => Plan.parse(movingPlan());
  const env = (moveTo: string | undefined) => ({
    OCTOPUS_API_KEY: "API-KEY123456789ABCDEF",
    OCTOHA_SQL_CONNECTION_STRING: OLD,
    OCTOHA_NEW_SQL: moveTo,
  });

  it("are read from the environment and registered as secrets, with the current string defaulting to octopus.sql's", () => {
    const redactor = new Redactor();
    const s = resolveSecrets(plan(), env(NEW), redactor);
    expect(s.database).toEqual({ moveTo: NEW, current: OLD });
    expect(redactor.redact(`a ${NEW} b ${OLD}`)).toBe("a *** b ***");
    expect(databaseMoveProblems(s)).toEqual([]);
  });

  it("an unset variable is named as database.moveTo, never a value", () => {
    const s = resolveSecrets(plan(), env(undefined), new Redactor());
    expect(s.missing).toEqual([{ path: "database.moveTo", variables: ["OCTOHA_NEW_SQL"] }]);
  });

  it("the same database (another password, same server and name) is refused with exit 2, naming both variables, quoting neither", () => {
    const same = "server=DB1;database=octopus;User Id=other;Password=Third-Secret-3";
    let error: unknown;
    try {
      requireSecrets(plan(), env(same), new Redactor());
    } catch (e) {
      error = e;
    }
    const e = error as { exitCode: number; message: string; hint: string; code: string };
    expect(e.code).toBe("DATABASE_MOVE_INVALID");
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain("database.moveTo (OCTOHA_NEW_SQL) names the database the nodes use now (OCTOHA_SQL_CONNECTION_STRING)");
    expect(`${e.message}${e.hint}`).not.toMatch(/Secret/);
  });

  it("a string with no Database= is refused (SQL Server would open the login's default database), moveTo's or the one a rollback writes back", () => {
    const noDatabase = "Server=ag-listener,1433;User Id=octopus;Password=New-Secret-2";
    expect(databaseMoveProblems(resolveSecrets(plan(), env(noDatabase), new Redactor()))).toEqual([
      expect.objectContaining({
        path: "database.moveTo",
        summary: expect.stringMatching(/OCTOHA_NEW_SQL \(database\.moveTo\) names no database/),
      }),
    ]);
    const oldWithout = { ...env(NEW), OCTOHA_SQL_CONNECTION_STRING: "Server=db1;User Id=octopus;Password=Old-Secret-1" };
    const problems = databaseMoveProblems(resolveSecrets(plan(), oldWithout, new Redactor()));
    expect(problems).toEqual([
      expect.objectContaining({
        path: "database.current",
        summary: expect.stringMatching(/what a rollback writes back to every node\) names no database/),
      }),
    ]);
    expect(() => requireSecrets(plan(), env(noDatabase), new Redactor())).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(JSON.stringify(problems)).not.toMatch(/Secret/);
  });

  it("a URL instead of a connection string is refused, naming the field", () => {
    const s = resolveSecrets(plan(), env("mssql://octopus:pw@db2/Octopus"), new Redactor());
    expect(databaseMoveProblems(s)).toEqual([
      expect.objectContaining({ path: "database.moveTo", summary: expect.stringContaining("is a URL") }),
    ]);
  });
});
