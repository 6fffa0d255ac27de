/** `octoha standin` runs the stand-in as a process: prints how to reach it, serves, stops cleanly on SIGTERM. */
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import sql from "mssql";
import { afterEach, describe, expect, it } from "vitest";
import { resultOf } from "../helpers/envelope.js";

const main = path.resolve("dist/cli/main.js");
const tmps: string[] = [];
afterEach(() => {
  for (const d of tmps.splice(0)) rmSync(d, { recursive: true, force: true });
});

function firstLine(child: ReturnType<typeof spawn>): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once("exit", (code) => reject(new Error(`exited ${code} before printing`)));
  });
}

describe("octoha standin", () => {
  it("prints URL, node URLs, API key, SQL connection string and serverExe as JSON on stdout, serves them (a node's own serverExe stops that node), and exits 0 on SIGTERM", async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "octoha-standin-cli-"));
    tmps.push(tmp);
    const child = spawn(process.execPath, [main, "standin", "--nodes", "3", "--data", tmp, "--seed-tasks", "2"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const info = resultOf<{
      url: string;
      nodes: { name: string; url: string; serverExe: string }[];
      apiKey: string;
      serverExe: string;
      localMachine: string;
      dataDir: string;
      sqlConnectionString: string | null;
    }>(await firstLine(child), "standin", 0);
    expect(info.sqlConnectionString).toMatch(/^Server=127\.0\.0\.1,\d+;Database=Octopus;/);
    expect(info.nodes.map((n) => n.name)).toEqual(["OCTO1", "OCTO2", "OCTO3"]);
    expect(info.apiKey).toMatch(/^API-/);
    expect(info.localMachine).toBe("OCTO1");
    const summary = (await (
      await fetch(`${info.url}/api/octopusservernodes/summary`, { headers: { "X-Octopus-ApiKey": info.apiKey } })
    ).json()) as { Nodes: unknown[] };
    expect(summary.Nodes).toHaveLength(3);
    const tasks = (await (
      await fetch(`${info.nodes[2]!.url}/api/tasks?states=Success,Failed`, { headers: { "X-Octopus-ApiKey": info.apiKey } })
    ).json()) as { TotalResults: number };
    expect(tasks.TotalResults).toBe(6);
    const { stdout } = await promisify(execFile)(info.nodes[2]!.serverExe, [
      "show-configuration",
      "--format=json",
      "--noconsolelogging",
      "--instance=OctopusServer",
    ]);
    expect((JSON.parse(stdout) as Record<string, string>)["Octopus.Server.NodeName"]).toBe("OCTO3");
    await promisify(execFile)(info.nodes[1]!.serverExe, ["service", "--stop"]);
    expect(
      (await fetch(`${info.url}/api/octopusservernodes/summary`, { headers: { "X-Octopus-ApiKey": info.apiKey } }).then((r) =>
        r.json(),
      )) as { Nodes: { Name: string; IsOffline: boolean }[] },
    ).toMatchObject({ Nodes: [{ IsOffline: false }, { Name: "OCTO2", IsOffline: true }, { IsOffline: false }] });
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("its envelope passes the redactor: a secret in its data folder's path is hidden, its own API key and SQL login are kept", async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "octoha-standin-cli-"));
    tmps.push(tmp);
    // A key-shaped folder name: the patterns hide it wherever it stands (a "Password=…" folder is a
    // path segment, not a connection string setting: named as it is since file names are not secrets).
    const data = path.join(tmp, "API-HUNTER2STANDIN0000000000");
    const child = spawn(process.execPath, [main, "standin", "--nodes", "1", "--data", data, "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const line = await firstLine(child);
    const info = resultOf<{ url: string; apiKey: string; sqlConnectionString: string; dataDir: string }>(line, "standin", 0);
    expect(line).not.toContain("HUNTER2STANDIN");
    expect(info.dataDir).toBe(path.join(tmp, "***"));
    expect(info.apiKey).toMatch(/^API-[0-9A-F]{26}$/);
    expect(info.sqlConnectionString).toMatch(/Password=(?!\*\*\*)[^;]+;/);
    const summary = await fetch(`${info.url}/api/octopusservernodes/summary`, { headers: { "X-Octopus-ApiKey": info.apiKey } });
    expect(summary.status).toBe(200);
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("bad options exit 2 and say what is accepted", async () => {
    const run = promisify(execFile);
    const err = await run(process.execPath, [main, "standin", "--nodes", "zero", "--data", os.tmpdir(), "--schema", "2020"]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(/--nodes must be a whole number[\s\S]*--schema must be 3.x or 2018\+/);
  });

  it("--restore-database serves a restore on its own SQL listener and lists it in the JSON line; a bad variant exits 2", async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "octoha-standin-cli-"));
    tmps.push(tmp);
    const args = [main, "standin", "--data", tmp, "--seed-tasks", "2", "--json", "--restore-database", "OctopusHA:table-short"];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const info = resultOf<{
      databases: { name: string; connectionString: string; databaseHa: string; live: boolean }[];
    }>(await firstLine(child), "standin", 0);
    expect(info.databases.map((d) => [d.name, d.databaseHa, d.live])).toEqual([
      ["Octopus", "standalone", true],
      ["OctopusHA", "availability-group", false],
    ]);
    const count = async (cs: string) => {
      const pool = await new sql.ConnectionPool({ ...sql.ConnectionPool.parseConnectionString(cs), pool: { max: 1, min: 0 } }).connect();
      try {
        return (await pool.request().query<{ n: number }>("SELECT COUNT(*) AS n FROM dbo.ServerTask")).recordset[0]!.n;
      } finally {
        await pool.close();
      }
    };
    expect(await count(info.databases[1]!.connectionString)).toBe((await count(info.databases[0]!.connectionString)) - 1);
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);

    const bad = await promisify(execFile)(process.execPath, [main, "standin", "--data", tmp, "--restore-database", "X:corrupt"]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/variant is "corrupt"; use one of: faithful/) });
  });
});
