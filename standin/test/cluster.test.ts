/** The simulated cluster behaves like Octopus where octoha depends on it (reference/octopus.md §1.4, §6). */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, MaintenanceModeError, TaskLogMissingError } from "../src/cluster.js";

const dirs: string[] = [];
function makeCluster(options: Partial<ConstructorParameters<typeof Cluster>[0]> = {}): Cluster {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "octoha-cluster-"));
  dirs.push(dataDir);
  return new Cluster({ dataDir, nodes: 2, taskDurationMs: 10_000, ...options });
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("simulated cluster", () => {
  it("two nodes with node-local C:\\Octopus\\TaskLogs really scatter task logs over two disks", () => {
    const c = makeCluster();
    const ids = [1, 2, 3, 4].map(() => c.queueTask().id);
    c.advance(0);
    c.advance(10_000);
    const byNode = new Map<string, string[]>();
    for (const id of ids) {
      const t = c.task(id);
      expect(t.state).toBe("Success");
      byNode.set(t.serverNode!, [...(byNode.get(t.serverNode!) ?? []), id]);
    }
    expect([...byNode.keys()].sort()).toEqual(["OCTO1", "OCTO2"]);
    const octo1Logs = readdirSync(path.join(c.dataDir, "nodes", "OCTO1", "C", "Octopus", "TaskLogs"));
    const octo2Logs = readdirSync(path.join(c.dataDir, "nodes", "OCTO2", "C", "Octopus", "TaskLogs"));
    expect(octo1Logs).toHaveLength(byNode.get("OCTO1")!.length);
    expect(octo2Logs).toHaveLength(byNode.get("OCTO2")!.length);
    for (const f of [...octo1Logs, ...octo2Logs]) expect(f).toMatch(/^servertasks-\d+_[A-Z0-9]{10}\.txt$/);
    const ranOn2 = byNode.get("OCTO2")![0]!;
    expect(c.readRawLog(ranOn2, "OCTO2")).toContain(`${ranOn2} finished: Success`);
    expect(() => c.readRawLog(ranOn2, "OCTO1")).toThrow(TaskLogMissingError);
  });

  it("logs written on shared storage are readable through every node", () => {
    const c = makeCluster({
      folders: {
        taskLogs: "\\\\fs01\\OctopusShared\\TaskLogs",
        artifacts: "\\\\fs01\\OctopusShared\\Artifacts",
        packages: "\\\\fs01\\OctopusShared\\Packages",
      },
    });
    const id = c.queueTask().id;
    c.advance(0);
    c.advance(10_000);
    expect(c.readRawLog(id, "OCTO1")).toBe(c.readRawLog(id, "OCTO2"));
    expect(existsSync(path.join(c.dataDir, "shared", "TaskLogs"))).toBe(true);
  });

  it("2025.2.10530 and later write one directory per task with .tl.txt parts, stitched in order on read", () => {
    const c = makeCluster({ version: "2025.2.10530", nodes: 1 });
    const id = c.queueTask().id;
    c.advance(0);
    c.advance(10_000);
    const dir = path.join(c.dataDir, "nodes", "OCTO1", "C", "Octopus", "TaskLogs", c.task(id).logFileName);
    const parts = readdirSync(dir);
    expect(parts.length).toBe(2);
    for (const p of parts) expect(p).toMatch(/^[A-Z0-9]{10}\.tl\.txt$/);
    const raw = c.readRawLog(id, "OCTO1");
    expect(raw.indexOf("started")).toBeLessThan(raw.indexOf("finished"));
  });

  it("queued tasks are picked up oldest first, never beyond a node's task cap", () => {
    const c = makeCluster({ nodes: 1, maxConcurrentTasks: 2 });
    const ids = [1, 2, 3].map(() => c.queueTask().id);
    c.advance(0);
    expect(ids.map((id) => c.task(id).state)).toEqual(["Executing", "Executing", "Queued"]);
    c.advance(10_000);
    expect(c.task(ids[2]!).state).toBe("Executing");
  });

  it("a draining node takes nothing new but finishes what it runs", () => {
    const c = makeCluster({ nodes: 2 });
    const running = c.queueTask().id;
    c.advance(0);
    const node = c.task(running).serverNode!;
    c.updateNode(node, { isDraining: true });
    const next = [c.queueTask().id, c.queueTask().id];
    c.advance(0);
    for (const id of next) expect(c.task(id).serverNode).not.toBe(node);
    c.advance(10_000);
    expect(c.task(running).state).toBe("Success");
  });

  it("with every node draining, queued tasks wait", () => {
    const c = makeCluster();
    for (const n of c.nodes()) c.updateNode(n.name, { isDraining: true });
    const id = c.queueTask().id;
    c.advance(60_000);
    expect(c.task(id).state).toBe("Queued");
  });

  it("a stuck node's drain never finishes: its executing task stays executing", () => {
    const c = makeCluster({ nodes: 1 });
    c.setStuck("OCTO1", true);
    const id = c.queueTask().id;
    c.advance(0);
    c.updateNode("OCTO1", { isDraining: true });
    c.advance(3_600_000);
    expect(c.task(id).state).toBe("Executing");
    expect(c.runningTaskCount("OCTO1")).toBe(1);
  });

  it("maintenance mode refuses new user tasks but still queues and runs system tasks and administrators' tasks", () => {
    const c = makeCluster();
    c.setMaintenanceMode(true);
    expect(() => c.queueTask({ requestedBy: "user" })).toThrow(MaintenanceModeError);
    const system = c.queueTask({ isSystem: true }).id;
    const admin = c.queueTask({ requestedBy: "administrator" }).id;
    c.advance(0);
    expect(c.task(system).state).toBe("Executing");
    expect(c.task(admin).state).toBe("Executing");
  });

  it("a node reads folder paths at start: `path` changes nothing until the node restarts", () => {
    const c = makeCluster({ nodes: 1 });
    c.setFolders({ taskLogs: "\\\\fs01\\OctopusShared\\TaskLogs" });
    expect(c.node("OCTO1").effectiveFolders.taskLogs).toBe("C:\\Octopus\\TaskLogs");
    c.stopNode("OCTO1");
    const queued = c.queueTask().id;
    c.advance(1000);
    expect(c.task(queued).state).toBe("Queued");
    c.startNode("OCTO1");
    expect(c.node("OCTO1").effectiveFolders.taskLogs).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
    c.advance(0);
    c.advance(10_000);
    expect(existsSync(path.join(c.dataDir, "shared", "TaskLogs", c.task(queued).logFileName))).toBe(true);
  });

  it("a node that restarts cancels the tasks it was executing, as Octopus does", () => {
    const c = makeCluster({ nodes: 1 });
    const id = c.queueTask().id;
    c.advance(0);
    c.stopNode("OCTO1");
    c.startNode("OCTO1");
    expect(c.task(id).state).toBe("Canceled");
    expect(c.readRawLog(id, "OCTO1")).toContain("terminated unexpectedly");
  });

  it("seeded history puts each node's logs, artifacts and packages on its own disk, with NuGetPackage rows", () => {
    const c = makeCluster();
    const before = c.revision();
    const seeded = c.seedHistory({ tasksPerNode: 3, artifactsPerTask: 1, packagesPerNode: 2, scheduledJobLogs: true });
    expect(c.revision()).toBeGreaterThan(before);
    expect(seeded.tasks).toHaveLength(6);
    for (const t of seeded.tasks) {
      expect(c.readRawLog(t.id, t.serverNode!)).toContain(t.id);
      expect(
        existsSync(path.join(c.dataDir, "nodes", t.serverNode!, "C", "Octopus", "Artifacts", "Spaces-1", t.id, "artifact-1.txt")),
      ).toBe(true);
    }
    expect(c.state().packages).toHaveLength(4);
    const pkg = c.state().packages[0]!;
    expect(
      existsSync(
        path.join(
          c.dataDir,
          "nodes",
          "OCTO1",
          "C",
          "Octopus",
          "Packages",
          "Spaces-1",
          "feeds-builtin",
          pkg.packageId,
          `${pkg.packageId}.${pkg.version}.zip`,
        ),
      ),
    ).toBe(true);
    const sched1 = readFileSync(
      path.join(c.dataDir, "nodes", "OCTO1", "C", "Octopus", "TaskLogs", "scheduledtasks_processsubscriptions.txt"),
      "utf8",
    );
    const sched2 = readFileSync(
      path.join(c.dataDir, "nodes", "OCTO2", "C", "Octopus", "TaskLogs", "scheduledtasks_processsubscriptions.txt"),
      "utf8",
    );
    expect(sched1).not.toBe(sched2);
  });

  it("the same seed gives the same file names: runs are reproducible", () => {
    const a = makeCluster();
    const b = makeCluster();
    expect(a.seedHistory({ tasksPerNode: 2 }).tasks.map((t) => t.logFileName)).toEqual(
      b.seedHistory({ tasksPerNode: 2 }).tasks.map((t) => t.logFileName),
    );
  });

  it("3.x clusters use the node name as node id; 2018+ use OctopusServerNodes-<NAME>", () => {
    expect(makeCluster({ schema: "3.x" }).nodes()[0]!.id).toBe("OCTO1");
    expect(makeCluster({ schema: "2018+" }).nodes()[0]!.id).toBe("OctopusServerNodes-OCTO1");
  });

  it("a snapshot restores the same tasks and folders, and new task ids continue after the old ones", () => {
    const c = makeCluster();
    c.seedHistory({ tasksPerNode: 2 });
    c.setFolders({ taskLogs: "\\\\fs01\\OctopusShared\\TaskLogs" });
    const restored = Cluster.fromSnapshot({ dataDir: c.dataDir, nodes: 2 }, JSON.parse(JSON.stringify(c.state())));
    expect(restored.state()).toEqual(c.state());
    expect(restored.queueTask().id).toBe("ServerTasks-5");
  });
});
