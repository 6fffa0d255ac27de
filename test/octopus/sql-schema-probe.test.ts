/** The schema decision and the error marks, without a socket: every spelling the reference lists. */
import { describe, expect, test } from "vitest";
import { toOctohaError } from "../../src/octopus/sql/errors.js";
import { decideSchema, foundColumns } from "../../src/octopus/sql/schema-probe.js";
import { redactor } from "../../src/shared/redact.js";

const rows = (tables: Record<string, string[]>) =>
  foundColumns(Object.entries(tables).flatMap(([t, cols]) => cols.map((c) => ({ TABLE_NAME: t, COLUMN_NAME: c }))));
const TASK = ["Id", "State", "CompletedTime"];

describe("schema probe", () => {
  test("the 2019 split node table (OctopusServerNodes) and a status table are recognised", () => {
    const shape = decideSchema(
      rows({
        ServerTask: [...TASK, "ServerNodeId", "SpaceId"],
        OctopusServerNodes: ["Id", "Name"],
        OctopusServerNodeStatus: ["Id"],
        NuGetPackage: ["Id", "PackageId", "Version", "SpaceId"],
      }),
    );
    expect(shape).toMatchObject({
      taskNodeColumn: "ServerNodeId",
      nodeTable: "OctopusServerNodes",
      hasNodeStatusTable: true,
      hasSpaceId: true,
      hasNuGetPackage: true,
      nodeHasTaskCap: false,
      packageHasSpaceId: true,
    });
  });

  test("table and column names match case-insensitively, as SQL Server's catalog does", () => {
    const shape = decideSchema(
      rows({ servertask: ["id", "state", "completedtime", "servernode"], octopusservernode: ["ID", "NAME", "maxconcurrenttasks"] }),
    );
    expect(shape).toMatchObject({
      taskNodeColumn: "ServerNode",
      nodeTable: "OctopusServerNode",
      nodeHasTaskCap: true,
      hasNuGetPackage: false,
    });
  });

  test("both ServerNode and ServerNodeId on ServerTask is ambiguous and refused", () => {
    expect(() => decideSchema(rows({ ServerTask: [...TASK, "ServerNode", "ServerNodeId"], OctopusServerNode: ["Id", "Name"] }))).toThrow(
      /ambiguous/,
    );
  });

  test("a missing node table is refused with the columns that were found", () => {
    try {
      decideSchema(rows({ ServerTask: [...TASK, "ServerNode"] }));
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe("SCHEMA_UNRECOGNISED");
      expect((e as { hint: string }).hint).toContain("Found: ServerTask(Id, State, CompletedTime, ServerNode)");
    }
  });
});

describe("SQL error marks", () => {
  test("a socket error is retryable; a permission error is fatal", () => {
    expect(
      toOctohaError(Object.assign(new Error("Connection lost - read ECONNRESET"), { code: "ESOCKET" }), { doing: "x" }).behaviour,
    ).toBe("retryable");
    expect(
      toOctohaError(Object.assign(new Error("Transaction was deadlocked"), { number: 1205, code: "EREQUEST" }), { doing: "x" }).behaviour,
    ).toBe("retryable");
    const denied = toOctohaError(Object.assign(new Error("The SELECT permission was denied"), { number: 229, code: "EREQUEST" }), {
      doing: "x",
    });
    expect(denied).toMatchObject({ code: "SQL_PERMISSION_DENIED", behaviour: "fatal" });
  });

  test("a driver message that quotes the connection string is redacted", () => {
    const secret = "Pa55-in-a-driver-message";
    redactor.add(secret);
    const e = toOctohaError(new Error(`cannot parse Server=x;Password=${secret};`), { doing: "connecting" });
    expect(e.message).not.toContain(secret);
    expect((e.cause as Error).message).not.toContain(secret);
  });
});
