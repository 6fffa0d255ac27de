import { describe, expect, it } from "vitest";
import { parsePlan } from "../../src/plan/load.js";
import { accessPath, relate } from "../../src/plan/locations.js";
import { pathStyle } from "../../src/shared/path-style.js";
import { linuxPlan, windowsPlan, type Loose } from "./fixtures.js";

const issuesOf = (plan: unknown): string[] => parsePlan(plan).issues.map((i) => `${i.path}: ${i.message}`);

describe("plan rules that must not cry wolf", () => {
  it("two Windows nodes may both use C:\\Octopus\\TaskLogs when this machine reaches them apart", () => {
    expect(issuesOf(windowsPlan())).toEqual([]);
  });

  it("a Linux container keeps its mount point (/taskLogs) while the volume behind it moves to shared storage", () => {
    expect(issuesOf(linuxPlan())).toEqual([]);
  });

  it("a node's own folder elsewhere on the share may sit under clusterShared", () => {
    const p = windowsPlan() as Loose;
    p.nodes[0].folders.taskLogs = { octopus: "\\\\fs01\\OctopusShared\\OCTO1\\TaskLogs" };
    expect(issuesOf(p)).toEqual([]);
  });

  it("a folder named like API-Backups2025 is not taken for an API key", () => {
    const p = windowsPlan() as Loose;
    p.shared.artifacts.octopus = "\\\\fs01\\API-Backups2025\\Artifacts";
    expect(issuesOf(p)).toEqual([]);
  });

  it("POSIX paths differing only in case are different folders", () => {
    const p = linuxPlan() as Loose;
    p.shared.artifacts.access = "/mnt/octoshared/TASKLOGS";
    expect(issuesOf(p)).toEqual([]);
  });
});

describe("plan rules compare Windows spellings as Windows does", () => {
  it("forward slashes, case and a trailing backslash do not hide that two kinds share a folder", () => {
    const p = windowsPlan() as Loose;
    p.shared.artifacts.octopus = "//FS01/OctopusShared/taskLogs\\";
    expect(issuesOf(p)).toEqual([expect.stringMatching(/^shared\.artifacts\.octopus: is the same folder as shared\.taskLogs/)]);
  });

  it("a folder whose name merely starts like another is not inside it", () => {
    expect(relate("C:\\Octopus\\TaskLogs2", "C:\\Octopus\\TaskLogs")).toBe("apart");
    expect(relate("C:\\Octopus\\TaskLogs\\x", "c:\\octopus\\tasklogs")).toBe("inside");
    expect(relate("/srv/a", "/srv/a/b")).toBe("contains");
  });

  it("classifies spellings by their shape, not by the host", () => {
    expect(["C:\\x", "\\\\fs\\share", "/mnt/x", "x\\y", "\\\\fs", "\\\\?\\C:\\x"].map(pathStyle)).toEqual([
      "windows",
      "windows",
      "posix",
      "relative",
      "relative",
      "relative",
    ]);
    expect(accessPath({ octopus: "C:\\x" })).toBe("C:\\x");
    expect(accessPath({ octopus: "C:\\x", access: "/mnt/x" })).toBe("/mnt/x");
  });
});

describe("validation output", () => {
  it("a typo does not hide the plan's other problems", () => {
    const p = windowsPlan() as Loose;
    p.nodes[0].folders.taskLog = p.nodes[0].folders.taskLogs;
    p.shared.packages.octopus = "Packages";
    expect(issuesOf(p)).toEqual([
      expect.stringMatching(/^nodes\[0\]\.folders: unknown key "taskLog"/),
      expect.stringMatching(/^shared\.packages\.octopus: relative path/),
    ]);
    expect(parsePlan(p).issues[0]?.fix).toContain('Did you mean "taskLogs"');
  });

  it("gives each problem the value found and a fix", () => {
    const p = windowsPlan() as Loose;
    p.shared.packages.octopus = "Packages";
    const [issue] = parsePlan(p).issues;
    expect(issue).toMatchObject({ path: "shared.packages.octopus", value: "Packages" });
    expect(issue?.fix).toMatch(/full path/);
  });

  it("never carries an inline secret in a value, message or fix", () => {
    const p = windowsPlan() as Loose;
    p.octopus.apiKey = "API-INLINEKEY1234567890";
    p.octopus.serverUrl = "https://admin:hunter2secret@octopus.example.com";
    const text = JSON.stringify(parsePlan(p).issues);
    expect(text).not.toContain("INLINEKEY1234567890");
    expect(text).not.toContain("hunter2secret");
    expect(parsePlan(p).issues.map((i) => i.path)).toEqual(expect.arrayContaining(["octopus.apiKey", "octopus.serverUrl"]));
  });
});
