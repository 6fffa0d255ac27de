import { describe, expect, it } from "vitest";
import { runCliChild, type RunCliOptions } from "../helpers/cli.js";

// As child processes: the exit code here is the one main.ts hands the shell (usage errors end the command line by a throw).
const runCli = (args: string[], o: RunCliOptions = {}) => runCliChild(args, o);

describe("octoha usage errors", () => {
  it("a missing argument or a bad option value is bad input (exit 2), with the usage shown", async () => {
    const missing = await runCli(["check"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'plan'");
    const badChoice = await runCli(["tentacles", "plan.json", "--shell", "fish"]);
    expect(badChoice.code).toBe(2);
    expect(badChoice.stderr).toContain("Allowed choices are pwsh, sh");
  });

  it("--help and --version still exit 0", async () => {
    expect((await runCli(["check", "--help"])).code).toBe(0);
    expect((await runCli(["--version"])).code).toBe(0);
  });
});
