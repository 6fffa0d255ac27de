import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyTree, nameProblems, windowsNameProblem } from "../../src/storage/index.js";
import { tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

describe("names Windows cannot hold", () => {
  it.each([
    ["a:b.txt", "':'"],
    ["what?.txt", "'?'"],
    ['say"hi".txt', "'\"'"],
    ["pipe|.txt", "'|'"],
    ["star*.zip", "'*'"],
    ["less<more>.txt", "'<'"],
    ["trailing.", "ends with a dot"],
    ["trailing ", "ends with a dot or a space"],
    ["CON", "reserved device name"],
    ["nul.txt", "reserved device name"],
    ["COM1.log", "reserved device name"],
    ["lpt9", "reserved device name"],
  ])("%s is reported (%s)", (name, why) => {
    expect(windowsNameProblem(name)).toContain(why);
  });

  // COM0 and LPT0 are not in Microsoft's list of reserved names.
  it.each([
    "servertasks-1_ABCDEFGHIJ.txt",
    "CONSOLE.txt",
    "COM10",
    "Acme.1.0.0.zip",
    "scheduledtasks_retention.txt",
    "COM0",
    "lpt0.txt",
    "COM\u00b9x.log",
    "conout$x",
  ])("%s is fine", (name) => {
    expect(windowsNameProblem(name)).toBeUndefined();
  });

  // Microsoft's list ("Naming Files, Paths, and Namespaces"): the superscripts ¹ ² ³ count as digits
  // in COM# and LPT#; CONIN$ and CONOUT$ open the console. COM0 and LPT0 are not reserved (above).
  it.each([
    ["COM\u00b9.log", "COM\u00b9"],
    ["lpt\u00b2.txt", "LPT\u00b2"],
    ["Com\u00b3", "COM\u00b3"],
    ["LPT\u00b9", "LPT\u00b9"],
    ["CONIN$", "CONIN$"],
    ["conout$.log", "CONOUT$"],
  ])("%s is reported as the device %s, also where only the last name is checked", (name, device) => {
    expect(windowsNameProblem(name)).toBe(`is the reserved device name ${device} on Windows (with or without an extension)`);
    expect(nameProblems(`Artifacts/${name}`, "D:\\Octopus", 1)).toEqual([expect.objectContaining({ problem: "invalid-windows-name" })]);
  });

  // Win32 asks RtlIsDosDeviceName_U before it opens a name: it ends the name at its first dot and
  // drops the spaces before it, so "NUL .txt" is the NUL device, not a file.
  it.each([
    ["nul .txt", "NUL"],
    ["CON   .log", "CON"],
    ["com1 .txt", "COM1"],
    ["LPT\u00b2 .log", "LPT\u00b2"],
    ["conout$ .x.y", "CONOUT$"],
  ])(
    "%j, a device name with spaces before its extension, is reported as the device %s, also where only the last name is checked",
    (name, device) => {
      expect(windowsNameProblem(name)).toBe(
        `is the reserved device name ${device} on Windows (with or without an extension, and with spaces before it)`,
      );
      expect(nameProblems(`Artifacts/${name}`, "D:\\Octopus", 1)).toEqual([expect.objectContaining({ problem: "invalid-windows-name" })]);
    },
  );

  it("a device name is said once, with the device it names", () => {
    expect(nameProblems("Artifacts/nul.txt", undefined)).toEqual([
      expect.objectContaining({ detail: "'nul.txt' is the reserved device name NUL on Windows (with or without an extension)" }),
    ]);
  });

  it("a path of 260 characters or more as Octopus sees it is reported with its length", () => {
    const root = "\\\\fs01\\OctopusShared\\Artifacts"; // 30 characters
    const fits = `${"a".repeat(100)}/${"b".repeat(127)}`; // 30 + 1 + 100 + 1 + 127 = 259
    const tooLong = `${"a".repeat(100)}/${"b".repeat(128)}`; // 260
    expect(nameProblems(fits, root)).toEqual([]);
    expect(nameProblems(tooLong, root)).toEqual([
      expect.objectContaining({ problem: "path-too-long", detail: expect.stringContaining("260 characters") }),
    ]);
    // The planning pass checks only the last name of a file in a folder it already checked.
    expect(nameProblems(fits, root, 1)).toEqual([]);
    expect(nameProblems(tooLong, root, 1)).toEqual([expect.objectContaining({ problem: "path-too-long" })]);
    expect(nameProblems(`${"a".repeat(100)}/${"b".repeat(126)}`, `${root}\\`, 1)).toEqual([]); // a trailing separator is not doubled
    // Without the root, a path too long under the shortest one (C:\) is too long under any.
    expect(nameProblems(`${"a".repeat(100)}/${"b".repeat(155)}`, undefined, 1)).toEqual([]); // 3 + 256 = 259
    expect(nameProblems(`${"a".repeat(100)}/${"b".repeat(156)}`, undefined, 1)).toEqual([
      expect.objectContaining({ problem: "path-too-long", detail: expect.stringContaining("257 characters below the target folder") }),
    ]);
  });

  it.each([
    ["a:b.txt", "invalid-windows-name"],
    ["trailing.", "invalid-windows-name"],
    ["nul.txt", "invalid-windows-name"],
    ["ok.txt", undefined],
    ["CONSOLE.txt", undefined],
  ])("checking only the last name of Artifacts/deep/%s finds %s", (name, problem) => {
    expect(nameProblems(`Artifacts/deep/${name}`, "D:\\Octopus", 1).map((p) => p.problem)[0]).toBe(problem);
    expect(nameProblems(`Art:facts/${name}`, undefined, 1).map((p) => p.problem)[0]).toBe(problem); // the folder was checked before
  });
});

describe("the copy's name report", () => {
  it("lists bad names and long paths before copying, and still copies them to the Linux target", async () => {
    const source = { dir: dir("source") };
    const target = { dir: dir("target") };
    writeFile(source.dir, "Artifacts/ok.txt", "ok");
    writeFile(source.dir, "Artifacts/bad:name.txt", "colon");
    writeFile(source.dir, "Artifacts/aux.zip", "aux");
    writeFile(source.dir, "Artifacts/COM\u00b9.log", "superscript one");
    writeFile(source.dir, "Artifacts/CONIN$", "console input");
    writeFile(source.dir, "Artifacts/COM0.log", "not a device");
    writeFile(source.dir, "Artifacts/nul .txt", "NUL to Win32");
    writeFile(source.dir, `Artifacts/${"deep/".repeat(50)}file.txt`, "deep");
    const progress: number[] = [];
    const summary = await copyTree({
      source: source.dir,
      target: target.dir,
      targetAsOctopusSeesIt: "D:\\Octopus\\Shared",
      onProgress: (p) => progress.push(p.filesDone),
    });
    const byPath = new Map(summary.nameProblems.map((p) => [p.relPath, p.problem]));
    expect(byPath.get("Artifacts/bad:name.txt")).toBe("invalid-windows-name");
    expect(byPath.get("Artifacts/aux.zip")).toBe("invalid-windows-name");
    expect(byPath.get("Artifacts/COM\u00b9.log")).toBe("invalid-windows-name");
    expect(byPath.get("Artifacts/CONIN$")).toBe("invalid-windows-name");
    expect(byPath.has("Artifacts/COM0.log")).toBe(false);
    expect(byPath.get("Artifacts/nul .txt")).toBe("invalid-windows-name");
    expect(byPath.get(`Artifacts/${"deep/".repeat(50)}file.txt`)).toBe("path-too-long");
    expect(byPath.has("Artifacts/ok.txt")).toBe(false);
    expect(summary.filesCopied).toBe(8);
    expect(path.isAbsolute(target.dir)).toBe(true);
  });
});
