/**
 * `winrm`: PowerShell remoting, for sites that allow WinRM but not remote service management.
 * `Invoke-Command -ComputerName HOST` runs the node's own `Octopus.Server.exe service --stop|--start`
 * there; status is `Get-Service` run the same way (PowerShell 7 has no `Get-Service -ComputerName`).
 * Remoting never carries a native exit code back, so the script block returns it with the output and
 * the local script exits with it. Values reach the script block through -ArgumentList, each a
 * single-quoted literal: nothing in them is ever parsed as PowerShell.
 */
import { pollPause } from "./poll.js";
import type { ControlContext, RecipeStatus, ServiceControl, WinRmRecipe } from "./types.js";
import { windowsServiceName } from "./types.js";
import { controlError, databaseCommandError } from "./errors.js";

export const DEFAULT_WINDOWS_SERVER_EXE = "C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe";

/** A PowerShell single-quoted literal. PowerShell also takes the typographic quotes ‘ ’ ‚ ‛ as quotes: doubled too. */
export function psQuote(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`;
}

export function winrmScript(host: string, action: "stop" | "start" | "status", exe: string, instance: string, service: string): string {
  const invoke = `Invoke-Command -ComputerName ${psQuote(host)} -ErrorAction Stop`;
  if (action === "status")
    return `${invoke} -ScriptBlock { param($name) (Get-Service -Name $name -ErrorAction Stop).Status.ToString() } -ArgumentList ${psQuote(service)}`;
  return (
    `$r = ${invoke} -ScriptBlock { param($exe, $instance) ` +
    `$out = & $exe service --${action} --instance $instance 2>&1 | Out-String; [pscustomobject]@{ Out = $out; Code = $LASTEXITCODE } } ` +
    `-ArgumentList ${psQuote(exe)}, ${psQuote(instance)}; $r.Out; exit $r.Code`
  );
}

/**
 * `Octopus.Server.exe database` on HOST. The connection string reaches the script block as a single-quoted
 * literal, like every value here; it is on this machine's powershell command line and the node's own
 * Octopus.Server.exe command line (the only way Octopus takes it), and octoha never prints either unredacted.
 */
export function winrmDatabaseScript(host: string, exe: string, instance: string, connectionString: string): string {
  return (
    `$r = Invoke-Command -ComputerName ${psQuote(host)} -ErrorAction Stop -ScriptBlock { param($exe, $instance, $cs) ` +
    `$out = & $exe database --instance $instance "--connectionString=$cs" 2>&1 | Out-String; [pscustomobject]@{ Out = $out; Code = $LASTEXITCODE } } ` +
    `-ArgumentList ${psQuote(exe)}, ${psQuote(instance)}, ${psQuote(connectionString)}; $r.Out; exit $r.Code`
  );
}

/** Get-Service's Status names → ours. */
export function winrmStatus(text: string): RecipeStatus {
  const raw = text.trim().split(/\r?\n/).pop()?.trim() ?? "";
  if (raw === "Running") return { state: "running", raw };
  if (raw === "Stopped") return { state: "stopped", raw };
  if (/Pending$/.test(raw)) return { state: "pending", raw };
  return { state: "other", raw };
}

export function winrmControl(recipe: WinRmRecipe, ctx: ControlContext): ServiceControl {
  const exe = recipe.serverExe ?? DEFAULT_WINDOWS_SERVER_EXE;
  const instance = recipe.instance ?? ctx.instance;
  const service = recipe.service ?? windowsServiceName(instance);
  const argv = (action: "stop" | "start" | "status") => [
    ctx.tools.powershell,
    "-NoProfile",
    "-NonInteractive",
    "-Command",
    winrmScript(recipe.host, action, exe, instance, service),
  ];

  const run = async (action: "stop" | "start" | "status"): Promise<string> => {
    const r = await ctx.run(argv(action));
    const out = `${r.stdout}\n${r.stderr}`;
    if (r.exitCode === 0) return r.stdout;
    throwIfWinRmUnreachable(ctx.node, recipe.host, out, argv(action));
    if (/NoServiceFoundForGivenName|has not been configured on this machine|no instances of|no default instance/i.test(out))
      throw controlError(
        ctx.node,
        "unknown-service",
        action === "status"
          ? `service '${service}' does not exist on ${recipe.host}`
          : `instance '${instance}' does not exist on ${recipe.host}`,
        `Check the instance/service name on ${recipe.host} (\`Octopus.Server.exe list-instances\`, Get-Service OctopusDeploy*) and set nodes[].control.instance / service.`,
        argv(action),
        out,
      );
    if (/CommandNotFoundException|is not recognized as the name/i.test(out))
      throw controlError(
        ctx.node,
        "failed",
        `${exe} was not found on ${recipe.host}`,
        "Set nodes[].control.serverExe to where Octopus.Server.exe is installed on that node.",
        argv(action),
        out,
      );
    throw controlError(
      ctx.node,
      "failed",
      `the WinRM ${action} exited with code ${r.exitCode}`,
      "Read its message below.",
      argv(action),
      out,
    );
  };

  const status = async () => winrmStatus(await run("status"));
  /** Octopus.Server.exe waits for the service itself; but a missing service is skipped with exit 0, so prove the state. */
  const settle = async (want: "stopped" | "running", action: "stop" | "start") => {
    const deadline = ctx.clock.now() + ctx.timeoutMs;
    for (let polled = 1; ; polled++) {
      const s = await status();
      if (s.state === want) return;
      if (ctx.clock.now() >= deadline || s.state !== "pending")
        throw controlError(
          ctx.node,
          s.state === "pending" ? "timeout" : "failed",
          `the service ${service} on ${recipe.host} is ${s.raw} after service --${action}`,
          `Look at ${recipe.host}'s Octopus server log (Home\\Logs\\OctopusServer.txt) and check nodes[].control.instance names the instance this node runs.`,
          argv("status"),
        );
      await pollPause(ctx, polled, deadline, `the service ${service} on ${recipe.host} to be ${want}`);
    }
  };

  return {
    description: `PowerShell remoting to ${recipe.host} (${exe} --instance ${instance}, service ${service})`,
    async stop() {
      await run("stop");
      await settle("stopped", "stop");
    },
    async start() {
      await run("start");
      await settle("running", "start");
    },
    status,
    async setDatabase(connectionString) {
      const argv = [
        ctx.tools.powershell,
        "-NoProfile",
        "-NonInteractive",
        "-Command",
        winrmDatabaseScript(recipe.host, exe, instance, connectionString),
      ];
      const r = await ctx.run(argv);
      if (r.exitCode !== 0) throw databaseCommandError(ctx.node, r.exitCode, argv, `${r.stdout}\n${r.stderr}`);
    },
  };
}

/** A PowerShell remoting failure to reach or be let into `host` (not the remote command's own failure), as our error. */
export function throwIfWinRmUnreachable(node: string, host: string, out: string, argv: readonly string[]): void {
  // FullyQualifiedErrorId is stable across languages; the message text is not.
  if (/FullyQualifiedErrorId\s*:\s*AccessDenied|\bAccess is denied\b/i.test(out))
    throw controlError(
      node,
      "denied",
      `WinRM access denied by ${host}`,
      `octoha's account needs to be a local administrator on ${host} (or in its Remote Management Users group with rights on the Octopus service); by IP address or outside a domain, use HTTPS or add ${host} to TrustedHosts.`,
      argv,
      out,
    );
  if (/FullyQualifiedErrorId\s*:\s*(WinRMOperationTimeout|CannotConnect|ComputerNotFound)/i.test(out))
    throw controlError(
      node,
      "unreachable",
      `cannot reach ${host} over WinRM`,
      `Check ${host} is up and its name resolves, that WinRM is enabled there (\`winrm quickconfig\` / Enable-PSRemoting) and that the firewall allows TCP 5985 (HTTP) or 5986 (HTTPS) from this machine.`,
      argv,
      out,
    );
}
