/**
 * A second database, the DBA's restore onto an HA instance, and the nodes moved onto it: read over TDS with
 * the real mssql driver on both databases, moved with the look-alike's `database` and `service`, and the
 * REST API serving whichever database the running nodes use.
 */
import { readFileSync } from "node:fs";
import sql from "mssql";
import { afterEach, describe, expect, it } from "vitest";
import { startTestStandin, type TestStandin } from "../src/testing/harness.js";
import type { StandinOptions } from "../src/index.js";
import { exe } from "./exe.js";
import { parseConnectionString, withConnectionStringValue } from "../src/databases.js";

const open: TestStandin[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

async function standin(options: Partial<StandinOptions> = {}): Promise<TestStandin> {
  const s = await startTestStandin({ sql: true, servicePendingMs: 30, startupMs: 0, seedTasks: 3, ...options });
  open.push(s);
  return s;
}

async function query<T>(connectionString: string, text: string): Promise<T[]> {
  const pool = new sql.ConnectionPool({ ...sql.ConnectionPool.parseConnectionString(connectionString), pool: { max: 1, min: 0 } });
  await pool.connect();
  try {
    return (await pool.request().query<T>(text)).recordset;
  } finally {
    await pool.close();
  }
}

async function scalar(connectionString: string, text: string): Promise<unknown> {
  const rows = await query<Record<string, unknown>>(connectionString, text);
  return Object.values(rows[0]!)[0];
}

/** What octoha's comparison reads, per database. */
async function fingerprint(cs: string): Promise<Record<string, unknown>> {
  return {
    tasks: await scalar(cs, "SELECT COUNT(*) AS n FROM dbo.ServerTask"),
    nodes: await scalar(cs, "SELECT COUNT(*) AS n FROM dbo.OctopusServerNode"),
    packages: await scalar(cs, "SELECT COUNT(*) AS n FROM dbo.NuGetPackage"),
    schema: await query(cs, "SELECT TOP 1 Id, ScriptName FROM dbo.SchemaVersions ORDER BY Id DESC"),
    installs: await query(cs, "SELECT Node, Installed FROM dbo.OctopusServerInstallationHistory ORDER BY Id"),
    keys: await query(cs, "SELECT CollectionName, Allocated FROM dbo.KeyAllocation ORDER BY CollectionName"),
  };
}

/** Every node stopped, pointed at `connectionString`, started: the move (or its rollback) as octoha runs it. */
async function moveEveryNode(s: TestStandin, connectionString: string): Promise<void> {
  for (const n of s.nodes) expect((await exe(n.serverExe, ["service", "--stop"])).code).toBe(0);
  for (const n of s.nodes) expect((await exe(n.serverExe, ["database", `--connectionString=${connectionString}`])).code).toBe(0);
  for (const n of s.nodes) expect((await exe(n.serverExe, ["service", "--start"])).code).toBe(0);
}

/** The task's Description as the API answers it through the load-balanced URL, or the HTTP status. */
async function apiTask(s: TestStandin, id: string): Promise<string | number> {
  const res = await fetch(`${s.url}/api/tasks/${id}`, { headers: { "X-Octopus-ApiKey": s.apiKey } });
  return res.ok ? ((await res.json()) as { Description: string }).Description : res.status;
}

async function lastSeen(cs: string): Promise<Record<string, number>> {
  const rows = await query<{ Name: string; LastSeen: Date }>(cs, "SELECT Name, LastSeen FROM dbo.OctopusServerNode");
  return Object.fromEntries(rows.map((r) => [r.Name, r.LastSeen.getTime()]));
}

describe("a restored database and the move onto it", () => {
  it("a faithful restore is another server: its own connection string and HA, the same rows", async () => {
    const s = await standin();
    const old = s.sqlConnectionString!;
    const ha = await s.restoreDatabase({ name: "OctopusHA", variant: "faithful", multiSubnetFailover: true });
    expect(ha).toMatchObject({ name: "OctopusHA", catalog: "OctopusHA", databaseHa: "availability-group", live: false });
    expect(ha.connectionString).toMatch(/^Server=127\.0\.0\.1,\d+;Database=OctopusHA;.*;MultiSubnetFailover=True$/);
    expect(ha.connectionString.match(/,(\d+);/)![1]).not.toBe(old.match(/,(\d+);/)![1]);
    expect(s.databases().map((d) => [d.name, d.live])).toEqual([
      ["Octopus", true],
      ["OctopusHA", false],
    ]);
    expect(await fingerprint(ha.connectionString)).toEqual(await fingerprint(old));
    expect(await scalar(ha.connectionString, "SELECT CAST(SERVERPROPERTY('IsHadrEnabled') AS int) AS v")).toBe(1);
    expect(await scalar(old, "SELECT CAST(SERVERPROPERTY('IsHadrEnabled') AS int) AS v")).toBe(0);
    expect(await query(ha.connectionString, "SELECT dns_name FROM sys.availability_group_listeners")).toEqual([{ dns_name: "octopus-ag" }]);
    // The old login does not open the new server, nor the old catalog name on it.
    const withOldPassword = withConnectionStringValue(ha.connectionString, "Password", parseConnectionString(old)!.get("password")!);
    await expect(query(withOldPassword, "SELECT 1 AS x")).rejects.toThrow(/Login failed/);
    // Each listener has its own fault knobs.
    s.setDatabaseFaults("OctopusHA", { dropNextConnections: 1 });
    await expect(query(ha.connectionString, "SELECT 1 AS x")).rejects.toThrow();
    expect(await scalar(old, "SELECT 1 AS x")).toBe(1);
    expect(await scalar(ha.connectionString, "SELECT 1 AS x")).toBe(1);
    expect(() => s.setDatabaseFaults("Nope", {})).toThrow(/no database 'Nope'/);
  });

  it("after every node is moved and restarted, the API, the scheduler and the heartbeats are the new database's; rollback brings the old back", async () => {
    const s = await standin();
    const old = s.sqlConnectionString!;
    const ha = await s.restoreDatabase({ name: "OctopusHA" });
    // Written to the old database after the restore: the restore does not have it.
    const late = s.cluster.queueTask({ requestedBy: "administrator", description: "written after the restore" });
    expect(await apiTask(s, late.id)).toBe("written after the restore");

    await moveEveryNode(s, ha.connectionString);
    expect(s.databases().find((d) => d.live)!.name).toBe("OctopusHA");
    expect(await apiTask(s, late.id)).toBe(404);
    // The restore allocates Ids from its own counters, so the same Id comes again (as KeyAllocation would).
    const onNew = s.cluster.queueTask({ requestedBy: "administrator", description: "written on the new database" });
    expect(onNew.id).toBe(late.id);
    s.cluster.advance(1_000);
    expect(s.cluster.task(onNew.id).state).toBe("Executing");
    expect(await apiTask(s, onNew.id)).toBe("written on the new database");
    const descriptions = async (cs: string) =>
      (await query<{ Description: string }>(cs, "SELECT Description FROM dbo.ServerTask")).map((r) => r.Description);
    expect(await descriptions(ha.connectionString)).toContain("written on the new database");
    expect(await descriptions(ha.connectionString)).not.toContain("written after the restore");
    expect(await descriptions(old)).toContain("written after the restore");
    expect(await descriptions(old)).not.toContain("written on the new database");

    const seenOld = await lastSeen(old);
    const seenNew = await lastSeen(ha.connectionString);
    s.cluster.advance(60_000);
    expect(await lastSeen(old)).toEqual(seenOld);
    const seenNewLater = await lastSeen(ha.connectionString);
    for (const n of ["OCTO1", "OCTO2"]) expect(seenNewLater[n]! - seenNew[n]!).toBe(60_000);

    await moveEveryNode(s, old);
    expect(s.databases().find((d) => d.live)!.name).toBe("Octopus");
    expect(await apiTask(s, late.id)).toBe("written after the restore");
  });

  it("table-short, older-schema and other-installation restores differ where octoha compares", async () => {
    const s = await standin();
    const old = s.sqlConnectionString!;
    const base = await fingerprint(old);
    const short = await s.restoreDatabase({ name: "Short", variant: "table-short" });
    const older = await s.restoreDatabase({ name: "Older", variant: "older-schema" });
    // Made at the very instant of the cluster's own install (the manual clock has not moved): another
    // installation all the same, installed at another time.
    const other = await s.restoreDatabase({ name: "Other", variant: "other-installation" });

    const keys = base.keys as { CollectionName: string; Allocated: number }[];
    expect(keys).toEqual([{ CollectionName: "ServerTasks", Allocated: base.tasks }]);
    expect(await fingerprint(short.connectionString)).toEqual({
      ...base,
      tasks: (base.tasks as number) - 1,
      keys: [{ CollectionName: "ServerTasks", Allocated: (base.tasks as number) - 1 }],
    });
    const olderPrint = await fingerprint(older.connectionString);
    expect((olderPrint.schema as { Id: number }[])[0]!.Id).toBe((base.schema as { Id: number }[])[0]!.Id - 1);
    expect({ ...olderPrint, schema: base.schema }).toEqual(base);
    const otherPrint = await fingerprint(other.connectionString);
    const installed = (print: Record<string, unknown>) => (print.installs as { Installed: Date }[]).map((r) => r.Installed.getTime());
    expect(installed(otherPrint)).toHaveLength(installed(base).length);
    for (const [i, at] of installed(otherPrint).entries()) expect(at).toBeLessThan(installed(base)[i]!);
    expect({ ...otherPrint, installs: base.installs }).toEqual(base);

    // Another installation's database is encrypted with another master key.
    const key = await exe(s.nodes[0]!.serverExe, [
      "database",
      `--connectionString=${other.connectionString}`,
      `--masterKey=${s.masterKey}`,
    ]);
    expect(key).toMatchObject({ code: 1, stderr: expect.stringMatching(/master key given does not match/) });
    // A node refuses the older schema: it stops, says why, and the cluster stays on its database.
    expect((await exe(s.nodes[1]!.serverExe, ["service", "--stop"])).code).toBe(0);
    expect((await exe(s.nodes[1]!.serverExe, ["database", `--connectionString=${older.connectionString}`])).code).toBe(0);
    expect((await exe(s.nodes[1]!.serverExe, ["service", "--start"])).code).toBe(1);
    const log = readFileSync(s.cluster.resolvePath("OCTO2", "C:\\Octopus\\Logs\\OctopusServer.txt")!, "utf8");
    expect(log).toMatch(/database schema is older than Octopus Server/);
    expect(log).not.toContain(parseConnectionString(older.connectionString)!.get("password")!);
    expect(s.databases().find((d) => d.live)!.name).toBe("Octopus");
  });

  it("a split cluster: a node moved while another still runs on the old database heartbeats alone into the new one", async () => {
    const s = await standin();
    const old = s.sqlConnectionString!;
    const ha = await s.restoreDatabase({ name: "OctopusHA" });
    const node2 = s.nodes[1]!.serverExe;
    expect((await exe(node2, ["service", "--stop"])).code).toBe(0);
    expect((await exe(node2, ["database", `--connectionString=${ha.connectionString}`])).code).toBe(0);
    expect((await exe(node2, ["service", "--start"])).code).toBe(0);
    expect(s.databases().find((d) => d.live)!.name).toBe("Octopus");
    const before = { old: await lastSeen(old), ha: await lastSeen(ha.connectionString) };
    s.cluster.advance(30_000);
    const after = { old: await lastSeen(old), ha: await lastSeen(ha.connectionString) };
    expect(after.old.OCTO1! - before.old.OCTO1!).toBe(30_000);
    expect(after.old.OCTO2).toBe(before.old.OCTO2);
    expect(after.ha.OCTO2! - before.ha.OCTO2!).toBe(30_000);
    expect(after.ha.OCTO1).toBe(before.ha.OCTO1);
    // Tasks of the live database go to the node that uses it only.
    const tasks = [0, 1, 2].map(() => s.cluster.queueTask({ requestedBy: "administrator", description: "on the old database" }));
    s.cluster.advance(1_000);
    expect(tasks.map((t) => s.cluster.task(t.id).serverNode)).toEqual(["OCTO1", "OCTO1", "OCTO1"]);

    // Each node's API answers from its own database: the other node is offline from where it stands.
    const get = async (node: number, p: string) => {
      const res = await fetch(`${s.nodes[node]!.url}${p}`, { headers: { "X-Octopus-ApiKey": s.apiKey } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const offline = async (node: number) =>
      Object.fromEntries(
        ((await get(node, "/api/octopusservernodes/summary")).body.Nodes as { Name: string; IsOffline: boolean }[]).map((n) => [
          n.Name,
          n.IsOffline,
        ]),
      );
    expect(await offline(0)).toEqual({ OCTO1: false, OCTO2: true });
    expect(await offline(1)).toEqual({ OCTO1: true, OCTO2: false });
    expect((await get(0, `/api/tasks/${tasks[0]!.id}`)).body.Description).toBe("on the old database");
    expect((await get(1, `/api/tasks/${tasks[0]!.id}`)).status).toBe(404);

    // A drain through OCTO2's API is written to the database OCTO2 uses, not the live one.
    const drain = await fetch(`${s.nodes[1]!.url}/api/octopusservernodes/OctopusServerNodes-OCTO2`, {
      method: "PUT",
      headers: { "X-Octopus-ApiKey": s.apiKey, "Content-Type": "application/json" },
      body: JSON.stringify({ IsInMaintenanceMode: true }),
    });
    expect(drain.status).toBe(200);
    const draining = async (cs: string) =>
      await scalar(cs, "SELECT CAST(IsInMaintenanceMode AS int) AS d FROM dbo.OctopusServerNode WHERE Name = 'OCTO2'");
    expect(await draining(ha.connectionString)).toBe(1);
    expect(await draining(old)).toBe(0);
    expect(s.cluster.node("OCTO2").isDraining).toBe(false);

    // The rest of a rolling move: once OCTO1 follows, the new database is live, with what OCTO2 wrote there.
    const node1 = s.nodes[0]!.serverExe;
    expect((await exe(node1, ["service", "--stop"])).code).toBe(0);
    expect((await exe(node1, ["database", `--connectionString=${ha.connectionString}`])).code).toBe(0);
    expect((await exe(node1, ["service", "--start"])).code).toBe(0);
    expect(s.databases().find((d) => d.live)!.name).toBe("OctopusHA");
    expect(s.cluster.node("OCTO2").isDraining).toBe(true);
    expect(await offline(0)).toEqual({ OCTO1: false, OCTO2: false });
    expect((await get(0, `/api/tasks/${tasks[0]!.id}`)).status).toBe(404);
  });

  it("path and show-configuration by an instance pointed at the restore use the restore, as the real tool uses its instance's database", async () => {
    const s = await standin();
    const ha = await s.restoreDatabase({ name: "OctopusHA" });
    const [node1, node2] = [s.nodes[0]!.serverExe, s.nodes[1]!.serverExe];
    const before = s.cluster.state().folders;
    // Every node stopped and OCTO1 pointed at the restore: the point in a move where octoha runs `path`.
    for (const n of s.nodes) expect((await exe(n.serverExe, ["service", "--stop"])).code).toBe(0);
    expect((await exe(node1, ["database", `--connectionString=${ha.connectionString}`])).code).toBe(0);
    const set = await exe(node1, ["path", "--taskLogs=\\\\fs01\\OctopusShared\\TaskLogs"]);
    expect(set.code, set.stderr).toBe(0);
    expect(s.cluster.databaseState("OctopusHA").folders).toEqual({ ...before, taskLogs: "\\\\fs01\\OctopusShared\\TaskLogs" });
    expect(s.cluster.databaseState("Octopus").folders).toEqual(before);
    const logDirectory = async (file: string) => {
      const { stdout } = await exe(file, ["show-configuration", "--format=json", "--noconsolelogging"]);
      return (JSON.parse(stdout) as Record<string, string>)["Octopus.Folders.LogDirectory"];
    };
    expect(await logDirectory(node1)).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
    expect(await logDirectory(node2)).toBe(before.taskLogs);
    // Started on the restore, the nodes read its folders.
    expect((await exe(node2, ["database", `--connectionString=${ha.connectionString}`])).code).toBe(0);
    for (const n of s.nodes) expect((await exe(n.serverExe, ["service", "--start"])).code).toBe(0);
    expect(s.cluster.node("OCTO2").effectiveFolders.taskLogs).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
    // An instance whose database cannot be opened writes nowhere, and says which database and why.
    expect(
      (await exe(node1, ["database", `--connectionString=${withConnectionStringValue(ha.connectionString, "Database", "Gone")}`])).code,
    ).toBe(0);
    const refused = await exe(node1, ["path", "--artifacts=\\\\fs01\\OctopusShared\\Artifacts"]);
    expect(refused).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/could not open its database \(Server=127\.0\.0\.1,\d+;Database=Gone;.*Cannot open database "Gone"/),
    });
    expect(refused.stderr).not.toContain(parseConnectionString(ha.connectionString)!.get("password")!);
    expect(s.cluster.databaseState("OctopusHA").folders.artifacts).toBe(before.artifacts);
    // show-configuration still prints the config file's values, and leaves out (saying so) those of the database.
    const shown = await exe(node1, ["show-configuration", "--format=json", "--noconsolelogging"]);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).not.toHaveProperty(["Octopus.Folders.LogDirectory"]);
    expect(JSON.parse(shown.stdout)).toHaveProperty(["Octopus.Storage.ExternalDatabaseConnectionString"]);
    expect(shown.stderr).toMatch(/folders, task cap, drain\) are left out: .*Cannot open database "Gone"/);
  });

  it("each database says truthfully which it is: two databases differ, one database reached by two spellings is the same", async () => {
    const s = await standin();
    const old = s.sqlConnectionString!;
    const ha = await s.restoreDatabase({ name: "OctopusHA" });
    const where = (cs: string) =>
      query(
        cs,
        "SELECT @@SERVERNAME AS [ServerName], CAST(SERVERPROPERTY('MachineName') AS nvarchar(128)) AS [MachineName], " +
          "CAST(SERVERPROPERTY('InstanceName') AS nvarchar(128)) AS [InstanceName], DB_NAME() AS [DatabaseName], " +
          "DB_ID() AS [DatabaseId], [create_date] AS [CreateDate] FROM sys.databases WHERE [database_id] = DB_ID()",
      );
    const original = await where(old);
    expect(original).toEqual([
      {
        ServerName: "SQL-OCTOPUS",
        MachineName: "SQL-OCTOPUS",
        InstanceName: null,
        DatabaseName: "Octopus",
        DatabaseId: 5,
        CreateDate: expect.any(Date),
      },
    ]);
    const restored = await where(ha.connectionString);
    expect(restored[0]).toMatchObject({ ServerName: "SQL-OCTOPUSHA", DatabaseName: "OctopusHA" });
    const port = old.match(/,(\d+);/)![1]!;
    for (const spelling of [
      old.replace("127.0.0.1,", "localhost,"),
      old.replace(`127.0.0.1,${port}`, `127.0.0.1, ${port}`),
      old.replace("Database=Octopus;", ""),
    ])
      expect(await where(spelling)).toEqual(original);
  });

  it("refuses a restore without SQL, an unknown variant and a name already taken", async () => {
    const s = await standin();
    await expect(s.restoreDatabase({ name: "X", variant: "corrupt" })).rejects.toThrow(/use one of: faithful, table-short/);
    await expect(s.restoreDatabase({ name: "octopus" })).rejects.toThrow(/already a database 'octopus'/);
    const noSql = await standin({ sql: false });
    await expect(noSql.restoreDatabase({ name: "X" })).rejects.toThrow(/needs the stand-in's SQL endpoint/);
  });
});
