/**
 * `ssh`: Octopus Server on Linux under systemd, `ssh -o BatchMode=yes [user@]HOST [sudo -n] systemctl
 * stop|start|is-active <unit>`. ssh hands the remote side one command line that its shell splits, so
 * every word is checked against a strict pattern at plan validation (and again here): nothing in it
 * can be a shell metacharacter. BatchMode: a missing key fails at once instead of prompting.
 */
import type { ControlContext, RecipeStatus, ServiceControl, SshRecipe } from "./types.js";
import { controlError } from "./errors.js";

export const DEFAULT_SSH_UNIT = "octopusdeploy";
/** Words that reach the remote shell: no spaces, quotes, `;`, `$`, `&` … */
export const SAFE_REMOTE_WORD = /^[A-Za-z0-9_][A-Za-z0-9_.@:+-]*$/;

/** `systemctl is-active` words → ours. */
export function systemctlStatus(text: string): RecipeStatus {
  const raw = text.trim().split(/\r?\n/).pop()?.trim() ?? "";
  if (raw === "active" || raw === "reloading") return { state: "running", raw };
  if (raw === "inactive" || raw === "failed") return { state: "stopped", raw };
  if (raw === "activating" || raw === "deactivating") return { state: "pending", raw };
  return { state: "other", raw };
}

export function sshControl(recipe: SshRecipe, ctx: ControlContext): ServiceControl {
  const unit = recipe.unit ?? DEFAULT_SSH_UNIT;
  const target = recipe.user ? `${recipe.user}@${recipe.host}` : recipe.host;
  for (const word of [target, unit])
    if (!SAFE_REMOTE_WORD.test(word)) throw new Error(`ssh recipe for ${ctx.node}: '${word}' is not a safe host/user/unit name`);
  const argv = (verb: "stop" | "start" | "is-active") => [
    ctx.tools.ssh,
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=15",
    target,
    ...(recipe.sudo && verb !== "is-active" ? ["sudo", "-n"] : []),
    "systemctl",
    verb,
    unit,
  ];

  const run = async (verb: "stop" | "start" | "is-active"): Promise<string> => {
    const r = await ctx.run(argv(verb));
    const out = `${r.stdout}\n${r.stderr}`;
    // is-active: 0 active, 3 (LSB "not running") inactive/failed/activating: its word says which.
    if (
      r.exitCode === 0 ||
      (verb === "is-active" && r.exitCode !== 255 && /^\s*(active|inactive|failed|activating|deactivating|reloading)\s*$/m.test(r.stdout))
    )
      return r.stdout;
    if (r.exitCode === 255 && /Permission denied|Host key verification failed|Too many authentication failures/i.test(out))
      throw controlError(
        ctx.node,
        "denied",
        `ssh to ${target} was refused (no usable key, or the host key is not known)`,
        `Set up key-based login for this account to ${target} (octoha never types a password: BatchMode=yes), and accept the host key once by hand.`,
        argv(verb),
        out,
      );
    if (r.exitCode === 255)
      throw controlError(
        ctx.node,
        "unreachable",
        `cannot reach ${recipe.host} over ssh`,
        `Check ${recipe.host} is up, its name resolves, and sshd is reachable from this machine (TCP 22 through the firewall).`,
        argv(verb),
        out,
      );
    if (/sudo: (a password is required|a terminal is required|.*not allowed|.*not in the sudoers)/i.test(out))
      throw controlError(
        ctx.node,
        "denied",
        `sudo on ${recipe.host} asked for a password`,
        `Allow ${recipe.user ?? "this user"} passwordless sudo for exactly \`systemctl stop ${unit}\` and \`systemctl start ${unit}\` on ${recipe.host} (a sudoers.d entry with NOPASSWD).`,
        argv(verb),
        out,
      );
    if (/Access denied|Interactive authentication required/i.test(out))
      throw controlError(
        ctx.node,
        "denied",
        `systemctl on ${recipe.host} refused: not allowed to ${verb} ${unit}`,
        `Set "sudo": true on this node's recipe and allow passwordless sudo for systemctl ${verb} ${unit}, or log in as a user allowed to manage the unit.`,
        argv(verb),
        out,
      );
    if (/not loaded|not found|could not be found/i.test(out))
      throw controlError(
        ctx.node,
        "unknown-service",
        `unit ${unit} does not exist on ${recipe.host}`,
        `Check the unit name (\`systemctl list-units 'octopus*'\` on ${recipe.host}; Octopus's own install names it after the instance) and set nodes[].control.unit.`,
        argv(verb),
        out,
      );
    throw controlError(
      ctx.node,
      "failed",
      `systemctl ${verb} ${unit} on ${recipe.host} exited with code ${r.exitCode}`,
      "Read its message below.",
      argv(verb),
      out,
    );
  };

  const status = async () => systemctlStatus(await run("is-active"));
  const prove = async (want: "stopped" | "running", verb: "stop" | "start") => {
    const s = await status();
    if (s.state !== want)
      throw controlError(
        ctx.node,
        "failed",
        `unit ${unit} on ${recipe.host} is ${s.raw} after systemctl ${verb}`,
        `Look at \`journalctl -u ${unit}\` on ${recipe.host}.`,
        argv("is-active"),
      );
  };
  return {
    description: `ssh ${target} systemctl (unit ${unit}${recipe.sudo ? ", sudo -n" : ""})`,
    async stop() {
      await run("stop"); // systemctl stop waits for the unit to stop
      await prove("stopped", "stop");
    },
    async start() {
      await run("start");
      await prove("running", "start");
    },
    status,
  };
}
