/**
 * `argv`: the operator's own commands (docker, kubectl, Ansible …), each an argv array run without a
 * shell. A status command's answer is read from its exit code and its last word: exit 0 with
 * `running`/`active`/`true`/`Running` (or nothing) is running; `stopped`/`inactive`/`exited`/`false`, or
 * exit 3 (LSB's "not running", what systemctl is-active uses), is stopped.
 */
import type { ArgvRecipe, ControlContext, RecipeStatus, ServiceControl } from "./types.js";
import { controlError, databaseCommandError } from "./errors.js";
import { databaseArgs } from "./types.js";

export function argvStatus(exitCode: number, stdout: string): RecipeStatus | undefined {
  const raw = stdout.trim().split(/\s+/).pop() ?? "";
  if (/^(stopped|inactive|exited|false|dead|failed)$/i.test(raw) || (exitCode === 3 && !/^(running|active|true)$/i.test(raw)))
    return { state: "stopped", raw: raw || `exit ${exitCode}` };
  if (exitCode !== 0) return undefined;
  if (raw === "" || /^(running|active|true|up)$/i.test(raw)) return { state: "running", raw: raw || "exit 0" };
  if (/pending|ing$/i.test(raw)) return { state: "pending", raw };
  return { state: "other", raw };
}

export function argvControl(recipe: ArgvRecipe, ctx: ControlContext): ServiceControl {
  const act = async (action: "stop" | "start") => {
    const argv = recipe[action];
    const r = await ctx.run(argv);
    if (r.exitCode !== 0)
      throw controlError(
        ctx.node,
        "failed",
        `the plan's ${action} command exited with code ${r.exitCode}`,
        `Read its message below; correct nodes[].control.${action} if it is wrong.`,
        argv,
        `${r.stdout}\n${r.stderr}`,
      );
  };
  const serverExe = recipe.serverExe;
  const setDatabase = serverExe
    ? async (connectionString: string) => {
        const argv = [...serverExe, ...databaseArgs(ctx.instance, connectionString)];
        const r = await ctx.run(argv);
        if (r.exitCode !== 0) throw databaseCommandError(ctx.node, r.exitCode, argv, `${r.stdout}\n${r.stderr}`);
      }
    : undefined;
  return {
    ...(setDatabase ? { setDatabase } : {}),
    description: `the plan's own commands (${recipe.stop[0] ?? ""} …)`,
    stop: () => act("stop"),
    start: () => act("start"),
    async status() {
      if (!recipe.status) return undefined;
      const r = await ctx.run(recipe.status);
      const s = argvStatus(r.exitCode, r.stdout);
      if (s) return s;
      throw controlError(
        ctx.node,
        "failed",
        `the plan's status command exited with code ${r.exitCode}`,
        "It should print running or stopped (exit 0), or exit 3 when stopped; correct nodes[].control.status.",
        recipe.status,
        `${r.stdout}\n${r.stderr}`,
      );
    },
  };
}
