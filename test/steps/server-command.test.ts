import { describe, expect, it } from "vitest";
import { quotePosixArg, quoteWindowsArg } from "../../src/steps/server-command.js";

/** CommandLineToArgvW's parsing rules, to prove the quoting round-trips. */
function parseWindowsArg(quoted: string): string {
  if (!quoted.startsWith('"')) return quoted;
  let out = "";
  let i = 1;
  while (i < quoted.length) {
    let slashes = 0;
    while (quoted[i] === "\\") {
      slashes++;
      i++;
    }
    if (quoted[i] === '"') {
      out += "\\".repeat(Math.floor(slashes / 2));
      if (slashes % 2 === 1) {
        out += '"';
        i++;
        continue;
      }
      break; // closing quote
    }
    out += "\\".repeat(slashes);
    if (i < quoted.length) out += quoted[i];
    i++;
  }
  return out;
}

describe("Windows quoting of the path command", () => {
  it.each(["\\\\fs01\\OctopusShared\\TaskLogs", "\\\\fs01\\Octopus Shared\\TaskLogs", "C:\\Octopus Shared\\", 'D:\\odd "name"\\x', ""])(
    "%j survives Windows argument parsing unchanged",
    (value) => {
      expect(parseWindowsArg(quoteWindowsArg(value))).toBe(value);
    },
  );

  it("leaves plain UNC paths unquoted and quotes paths with spaces, doubling a trailing backslash", () => {
    expect(quoteWindowsArg("\\\\fs01\\Share\\TaskLogs")).toBe("\\\\fs01\\Share\\TaskLogs");
    expect(quoteWindowsArg("C:\\Octopus Shared\\")).toBe('"C:\\Octopus Shared\\\\"');
  });

  it("quotes for a POSIX shell on Linux containers", () => {
    expect(quotePosixArg("/mnt/octo shared/TaskLogs")).toBe("'/mnt/octo shared/TaskLogs'");
    expect(quotePosixArg("/taskLogs")).toBe("/taskLogs");
  });
});
