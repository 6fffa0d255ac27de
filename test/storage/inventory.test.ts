import { describe, expect, it } from "vitest";
import { inventory, type InventoryEntry } from "../../src/storage/index.js";
import { tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

async function list(root: string, kind: Parameters<typeof inventory>[1]): Promise<Map<string, InventoryEntry>> {
  const out = new Map<string, InventoryEntry>();
  for await (const e of inventory(root, kind)) out.set(e.relPath, e);
  return out;
}

describe("inventory of an Octopus folder", () => {
  it("knows flat task logs, per-task log folders and scheduled-job logs, and leaves our own files out", async () => {
    const root = dir("logs");
    writeFile(root, "servertasks-843072_66EFUU6SFH.txt", "flat");
    writeFile(root, "servertasks-900001_ABCDEFGHIJ/K1L2M3N4O5.tl.txt", "part 1");
    writeFile(root, "servertasks-900001_ABCDEFGHIJ/P6Q7R8S9T0.tl.txt", "part 2");
    writeFile(root, "scheduledtasks_processautodeployments.txt", "sched");
    writeFile(root, "notes.md", "someone's notes");
    writeFile(root, "servertasks-1_X.txt.octoha-tmp", "our partial file");
    writeFile(root, ".octoha/manifest-copy.jsonl", "{}");
    const got = await list(root, "TaskLogs");
    expect(Object.fromEntries([...got].map(([k, v]) => [k, [v.layout, v.taskId]]))).toEqual({
      "servertasks-843072_66EFUU6SFH.txt": ["task-log", "ServerTasks-843072"],
      "servertasks-900001_ABCDEFGHIJ/K1L2M3N4O5.tl.txt": ["task-log-part", "ServerTasks-900001"],
      "servertasks-900001_ABCDEFGHIJ/P6Q7R8S9T0.tl.txt": ["task-log-part", "ServerTasks-900001"],
      "scheduledtasks_processautodeployments.txt": ["scheduled-task-log", undefined],
      "notes.md": ["other", undefined],
    });
    expect(got.get("servertasks-843072_66EFUU6SFH.txt")!.size).toBe(4);
  });

  it("knows the Spaces package layout and the older flat one", async () => {
    const root = dir("packages");
    writeFile(root, "Spaces-1/feeds-builtin/Acme/Acme.1.4.0.zip", "pk");
    writeFile(root, "MyPackage.2020.1.1.nupkg", "old");
    writeFile(root, "Spaces-2/feeds-builtin/Web/Web.2.0.0.tar.gz", "tgz");
    const got = await list(root, "Packages");
    expect(got.get("Spaces-1/feeds-builtin/Acme/Acme.1.4.0.zip")!.layout).toBe("package");
    expect(got.get("Spaces-2/feeds-builtin/Web/Web.2.0.0.tar.gz")!.layout).toBe("package");
    expect(got.get("MyPackage.2020.1.1.nupkg")!.layout).toBe("package-legacy");
  });

  it("returns every file of a flat folder of 3000 task logs, and can be stopped after the first", async () => {
    const root = dir("many");
    for (let i = 0; i < 3000; i++) writeFile(root, `servertasks-${i}_ABCDEFGHIJ.txt`, "x");
    const it = inventory(root, "TaskLogs")[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    await it.return?.(undefined);
    expect((await list(root, "TaskLogs")).size).toBe(3000);
  });
});
