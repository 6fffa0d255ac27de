/**
 * The SQL connection string as an operator gets it wrong: a wrong password is a login failure with
 * the fix for a login (not an unknown schema), and a connection string octoha cannot use (a URL,
 * no server, Integrated Security without a login) is refused up front with exit 2, naming the
 * accepted form, before anything is written. The password is never printed.
 */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { RunningStandin } from "@octoha/standin";
import { resultOf } from "../helpers/envelope.js";
import { scenarios } from "./harness.js";

const scenario = scenarios();
const SQL_ENV = "OCTOHA_DEMO_SQL_CONNECTION_STRING";
const WRONG = "Not-The-Password-42";

interface Finding {
  severity: string;
  code: string;
  summary: string;
  fix?: string;
}

const errorsOf = (stdout: string, exitCode: number): Finding[] =>
  resultOf<{ results: { findings: Finding[] }[] }>(stdout, "check", exitCode).results.flatMap((r) =>
    r.findings.filter((f) => f.severity === "error"),
  );

const withPassword = (standin: RunningStandin, password: string) =>
  standin.sqlConnectionString!.replace(/Password=[^;]*/, `Password=${password}`);

describe("a SQL connection string that does not work", () => {
  it("a wrong password is a refused login with the login's fix, in check and in repair; never an unrecognised schema", async () => {
    const s = await scenario({ env: (standin) => ({ [SQL_ENV]: withPassword(standin, WRONG) }) });
    const check = await s.cli("check", s.planFile, "--json");
    expect(check.code, check.stderr).toBe(1);
    const errors = errorsOf(check.stdout, 1);
    expect(errors.map((f) => f.code)).toEqual(["SQL_LOGIN_FAILED"]);
    expect(errors[0]!.summary).toMatch(/refused the login.*Login failed for user 'octoha_reader'/);
    expect(errors[0]!.fix).toMatch(/User Id and Password in the connection string in OCTOHA_DEMO_SQL_CONNECTION_STRING/);
    expect(errors[0]!.fix).toMatch(/Integrated Security/);
    expect(errors[0]!.fix).toMatch(/login exists/);

    const run = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(run.code, run.stderr).toBe(1);
    expect(run.outcome?.failure?.hint).toMatch(/refused the login/);
    for (const text of [check.stdout, check.stderr, run.stdout, run.stderr]) {
      expect(text).not.toMatch(/schema was not recognised|report the Octopus version/);
      expect(text).not.toContain(WRONG);
    }
  });

  it.each([
    [
      "a URL",
      (st: RunningStandin) => `mssql://octoha_reader:${WRONG}@127.0.0.1:${/,(\d+)/.exec(st.sqlConnectionString!)![1]}/Octopus`,
      /is a URL/,
    ],
    ["no server", () => `Database=Octopus;User Id=octoha_reader;Password=${WRONG}`, /names no server/],
    ["Integrated Security without a login", () => "Server=127.0.0.1,1433;Database=Octopus;Integrated Security=SSPI", /Integrated Security/],
    [
      "a port that is not a number",
      () => `Server=127.0.0.1,abc;Database=Octopus;User Id=octoha_reader;Password=${WRONG}`,
      /has Server=127\.0\.0\.1,abc: the port after the comma must be a number from 1 to 65535, not "abc"/,
    ],
    [
      "a port out of range",
      () => `Data Source=tcp:127.0.0.1,70000;Initial Catalog=Octopus;UID=octoha_reader;PWD=${WRONG}`,
      /has Data Source=tcp:127\.0\.0\.1,70000: the port after the comma must be a number from 1 to 65535, not "70000"/,
    ],
  ])(
    "%s is refused with exit 2 naming the accepted form, by check and by repair, and nothing is written",
    async (_what, connectionString, reason) => {
      const s = await scenario({ env: (standin) => ({ [SQL_ENV]: connectionString(standin) }) });
      const check = await s.cli("check", s.planFile, "--json");
      expect(check.code, check.stderr).toBe(2);
      const errors = errorsOf(check.stdout, 2);
      expect(errors.map((f) => f.code)).toEqual(["SQL_CONNECTION_STRING_INVALID"]);
      expect(errors[0]!.summary).toMatch(reason);
      expect(errors[0]!.fix).toMatch(/Server=HOST\[,PORT\].*Database=Octopus;User Id=LOGIN/);

      const run = await s.cli("repair", s.planFile, "--yes");
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(reason);
      expect(run.stderr).toMatch(/ADO\.NET form/);
      expect(run.stderr).not.toMatch(/undefined/);
      expect(existsSync(s.stateDir), "a refused run wrote its state directory").toBe(false);
      for (const text of [check.stdout, check.stderr, run.stdout, run.stderr]) expect(text).not.toContain(WRONG);
    },
  );
});
