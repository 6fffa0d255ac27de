import path from "node:path";
import { describe, expect, it } from "vitest";
import { TargetReservations, type Reservation } from "../../src/storage/reservations.js";

const file = (node: string, sourceRoot: string, sourceRelPath: string, size = 1) => ({
  node,
  sourceRoot,
  sourceRelPath,
  size,
  mtimeMs: 1000 + size,
});
const names = (r: Iterable<Reservation>) => [...r].map((x) => `${x.isDir ? "dir" : "file"} ${x.name} ${x.node} ${x.sourceAbs}`);

describe("what earlier sources' dry-runs would leave at a shared target", () => {
  it("shows a source's files and their folders to the next source only once it commits, with the source file's path", () => {
    const r = new TargetReservations();
    r.recordFile("Artifacts/Task-1/log.txt", file("OCTO1", "/n1", "Artifacts/Task-1/log.txt", 7));
    r.recordFile("Überprüfung-😀.txt", file("OCTO1", "/n1", "Überprüfung-😀.txt"));
    expect([...r.in("")]).toEqual([]); // the current source's own additions are not what it meets
    r.commit();
    expect(names(r.in(""))).toEqual(["dir Artifacts OCTO1 ", `file Überprüfung-😀.txt OCTO1 ${path.join("/n1", "Überprüfung-😀.txt")}`]);
    expect(names(r.in("ARTIFACTS"))).toEqual(["dir Task-1 OCTO1 "]);
    expect([...r.in("artifacts/task-1")]).toEqual([
      {
        name: "log.txt",
        isDir: false,
        size: 7,
        mtimeMs: 1007,
        node: "OCTO1",
        sourceAbs: path.join("/n1", "Artifacts", "Task-1", "log.txt"),
      },
    ]);
  });

  it("keeps a source path that differs from the target path (a folder merged into its case variant), and a lone surrogate", () => {
    const r = new TargetReservations();
    r.recordFile("Artifacts/a.txt", file("OCTO1", "/n1", "Artifacts/a.txt"));
    r.commit();
    r.recordFile("Artifacts/b.txt", file("OCTO2", "/n2", "artifacts/b.txt"));
    r.recordFile("Artifacts/bad-\ud800.txt", file("OCTO2", "/n2", "Artifacts/bad-\ud800.txt"));
    r.commit();
    expect(names(r.in("Artifacts"))).toEqual([
      `file a.txt OCTO1 ${path.join("/n1", "Artifacts", "a.txt")}`,
      `file b.txt OCTO2 ${path.join("/n2", "artifacts", "b.txt")}`,
      `file bad-\ud800.txt OCTO2 ${path.join("/n2", "Artifacts", "bad-\ud800.txt")}`,
    ]);
  });

  it("forgets an abandoned (interrupted) source's additions and keeps what was committed before", () => {
    const r = new TargetReservations();
    r.recordFile("TaskLogs/one.txt", file("OCTO1", "/n1", "TaskLogs/one.txt"));
    r.commit();
    r.recordFile("TaskLogs/two.txt", file("OCTO2", "/n2", "TaskLogs/two.txt"));
    r.recordFile("Packages/p.zip", file("OCTO2", "/n2", "Packages/p.zip"));
    r.abandon();
    r.recordFile("TaskLogs/three.txt", file("OCTO3", "/n3", "TaskLogs/three.txt"));
    r.commit();
    expect(names(r.in("TaskLogs")).map((n) => n.split(" ")[1])).toEqual(["one.txt", "three.txt"]);
    expect([...r.in("Packages")]).toEqual([]);
    expect(new Set(names(r.in("")).map((n) => n.split(" ")[1]))).toEqual(new Set(["TaskLogs"])); // not Packages
  });

  it("holds 300 000 would-be task logs in one folder, every one found again", () => {
    const r = new TargetReservations();
    for (let i = 0; i < 300_000; i++)
      r.recordFile(`TaskLogs/servertasks-${i}_ABCDEFGHIJ.txt`, file("OCTO1", "/n1", `TaskLogs/servertasks-${i}_ABCDEFGHIJ.txt`, i));
    r.commit();
    let n = 0;
    for (const x of r.in("TaskLogs")) {
      expect(x.size).toBe(n);
      if (n % 9973 === 0) expect(x.sourceAbs).toBe(path.join("/n1", "TaskLogs", `servertasks-${n}_ABCDEFGHIJ.txt`));
      n++;
    }
    expect(n).toBe(300_000);
  });
});
