import { describe, expect, it } from "vitest";
import { dataPlanChanges } from "../../src/plan/where-data-goes.js";

const at = (value: string): string => JSON.stringify(value);

describe("what a resume compares of where data goes", () => {
  it("a path spelled otherwise is the same place: a POSIX path with a trailing '/' or a '.', a Windows path in another case", () => {
    const recorded = {
      "shared.taskLogs.access": at("/mnt/octoshared/TaskLogs"),
      "shared.taskLogs.octopus": at("\\\\fs01\\OctopusShared\\TaskLogs"),
      nodes: JSON.stringify(["OCTO1"]),
    };
    const now = {
      "shared.taskLogs.access": at("/mnt/octoshared/./TaskLogs/"),
      "shared.taskLogs.octopus": at("\\\\FS01\\octopusshared\\TaskLogs\\"),
      nodes: JSON.stringify(["OCTO1"]),
    };
    expect(dataPlanChanges(recorded, now)).toEqual([]);
  });

  it("a POSIX path in another case is another folder (Linux is case-sensitive), and so is another share", () => {
    const recorded = { "shared.taskLogs.access": at("/mnt/octoshared/TaskLogs"), "shared.taskLogs.octopus": at("\\\\fs01\\A\\TaskLogs") };
    const now = { "shared.taskLogs.access": at("/mnt/octoshared/tasklogs"), "shared.taskLogs.octopus": at("\\\\fs02\\A\\TaskLogs") };
    expect(dataPlanChanges(recorded, now)).toEqual([
      'shared.taskLogs.access: was "/mnt/octoshared/TaskLogs", now "/mnt/octoshared/tasklogs"',
      'shared.taskLogs.octopus: was "\\\\\\\\fs01\\\\A\\\\TaskLogs", now "\\\\\\\\fs02\\\\A\\\\TaskLogs"',
    ]);
  });
});
