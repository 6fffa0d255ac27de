/** `local`: this machine's own Octopus.Server.exe (the node octoha runs on). Status comes from the node's ping. */
import type { ControlContext, ServiceControl } from "./types.js";
import { controlError, databaseCommandError } from "./errors.js";
import { databaseArgs } from "./types.js";

export function localControl(ctx: ControlContext): ServiceControl {
  const argv = (action: "stop" | "start") => [ctx.serverExe, "service", `--${action}`, `--instance=${ctx.instance}`];
  const act = async (action: "stop" | "start") => {
    const r = await ctx.run(argv(action));
    if (r.exitCode === 0) return;
    const out = `${r.stdout}\n${r.stderr}`;
    // Octopus's own unknown-instance text (reference: "has not been configured on this machine").
    if (/has not been configured on this machine|no instances of|no default instance/i.test(out))
      throw controlError(
        ctx.node,
        "unknown-service",
        `Octopus.Server.exe has no instance '${ctx.instance}' on this machine`,
        "The local recipe reaches only the machine octoha runs on: give this node a remote recipe (sc, winrm, ssh, argv) if it is another machine, or correct octopus.instance.",
        argv(action),
        out,
      );
    throw controlError(
      ctx.node,
      "failed",
      `service --${action} exited with code ${r.exitCode}`,
      "Read its message below.",
      argv(action),
      out,
    );
  };
  return {
    description: `${ctx.serverExe} service --instance=${ctx.instance} (this machine)`,
    stop: () => act("stop"),
    start: () => act("start"),
    status: () => Promise.resolve(undefined),
    async setDatabase(connectionString) {
      const argv = [ctx.serverExe, ...databaseArgs(ctx.instance, connectionString)];
      const r = await ctx.run(argv);
      if (r.exitCode !== 0) throw databaseCommandError(ctx.node, r.exitCode, argv, `${r.stdout}\n${r.stderr}`);
    },
  };
}
