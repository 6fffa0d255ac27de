/**
 * `sc`: the Windows Service Control Manager over RPC, `sc.exe \\HOST query|stop|start <service>`.
 * `stop`/`start` return as soon as the SCM accepted the control (STOP_PENDING / START_PENDING), so
 * both poll `query` until STOPPED (1) or RUNNING (4), bounded by the recipe's timeout. Failures are
 * read from sc.exe's own `[SC] <API> FAILED <code>:` line (the code, never the localised text).
 */
import type { ControlContext, RecipeStatus, ScRecipe, ServiceControl } from "./types.js";
import { windowsServiceName } from "./types.js";
import { controlError } from "./errors.js";
import { pollPause } from "./poll.js";
import type { CommandResult } from "../cli/exec.js";

const STATE_NAMES: Record<number, string> = {
  1: "STOPPED",
  2: "START_PENDING",
  3: "STOP_PENDING",
  4: "RUNNING",
  5: "CONTINUE_PENDING",
  6: "PAUSE_PENDING",
  7: "PAUSED",
};

/** `STATE : 4  RUNNING` → 4 (labels are never translated; the number is what counts). */
export function parseScState(output: string): number | undefined {
  const m = /^\s*STATE\s*:\s*(\d+)/m.exec(output);
  return m ? Number(m[1]) : undefined;
}

/** `[SC] OpenService FAILED 1060:` (or FEHLER, ÉCHEC …) → 1060. */
export function parseScError(output: string): number | undefined {
  const m = /^\[SC\][^\r\n]*?(\d+)\s*:/m.exec(output);
  return m ? Number(m[1]) : undefined;
}

export function scStatus(state: number): RecipeStatus {
  const raw = `${state}  ${STATE_NAMES[state] ?? "UNKNOWN"}`;
  if (state === 1) return { state: "stopped", raw };
  if (state === 4) return { state: "running", raw };
  if (state === 2 || state === 3 || state === 5 || state === 6) return { state: "pending", raw };
  return { state: "other", raw };
}

export function scControl(recipe: ScRecipe, ctx: ControlContext): ServiceControl {
  const service = recipe.service ?? windowsServiceName(ctx.instance);
  const unc = `\\\\${recipe.host}`;
  const argv = (verb: "query" | "stop" | "start") => [ctx.tools.sc, unc, verb, service];

  /** Runs sc; returns the STATE it printed, or throws the error its code means. Codes in `ok` are not errors. */
  const sc = async (verb: "query" | "stop" | "start", ok: number[] = []): Promise<number | undefined> => {
    const r: CommandResult = await ctx.run(argv(verb));
    const out = `${r.stdout}\n${r.stderr}`;
    const code = parseScError(out);
    if (code !== undefined && ok.includes(code)) return undefined;
    if (r.exitCode === 0 && code === undefined) {
      const state = parseScState(out);
      if (state !== undefined) return state;
      throw controlError(ctx.node, "failed", `sc.exe printed no STATE line`, "Run the command by hand and compare.", argv(verb), out);
    }
    throw scFailure(code, r.exitCode, verb, out);
  };

  const scFailure = (code: number | undefined, exitCode: number, verb: string, out: string) => {
    const a = argv(verb as "query");
    if (code === 1060)
      return controlError(
        ctx.node,
        "unknown-service",
        `service '${service}' does not exist on ${recipe.host} (sc.exe error 1060)`,
        `Check the instance/service name: the default instance's service is OctopusDeploy, a named instance's is "OctopusDeploy: <instance>"; run \`sc.exe ${unc} query type= service state= all\` to list them and set nodes[].control.service.`,
        a,
        out,
      );
    if (code === 5)
      return controlError(
        ctx.node,
        "denied",
        `access denied by ${recipe.host}'s service manager (sc.exe error 5)`,
        `octoha's account needs local admin rights on ${recipe.host} (or rights on the service granted with sc sdset); a local, non-domain account also needs LocalAccountTokenFilterPolicy = 1 there.`,
        a,
        out,
      );
    if (code === 1722 || code === 1726 || code === 53)
      return controlError(
        ctx.node,
        "unreachable",
        `cannot reach ${recipe.host}'s service manager: the RPC server is unavailable (sc.exe error ${code})`,
        `Check ${recipe.host} is up and its name resolves, and that the firewall allows remote service management from this machine (RPC: TCP 135 and the dynamic RPC ports, or SMB: TCP 445).`,
        a,
        out,
      );
    const what = code !== undefined ? `sc.exe ${verb} failed with error ${code}` : `sc.exe ${verb} exited with code ${exitCode}`;
    return controlError(ctx.node, "failed", what, "Read sc.exe's message below.", a, out);
  };

  /** Polls `query` until the wanted state, bounded by the recipe's timeout. */
  const waitFor = async (want: 1 | 4, verb: "stop" | "start"): Promise<void> => {
    const deadline = ctx.clock.now() + ctx.timeoutMs;
    let last: number | undefined;
    for (let polled = 1; ; polled++) {
      last = await sc("query");
      if (last === want) return;
      if (last === 1 && want === 4)
        throw controlError(
          ctx.node,
          "failed",
          `the service ${service} stopped again right after its start on ${recipe.host}`,
          `Look at ${recipe.host}'s Octopus server log (Home\\Logs\\OctopusServer.txt) and its System event log: a folder the service account cannot reach stops the service right after start.`,
          argv("query"),
        );
      if (ctx.clock.now() >= deadline) break;
      await pollPause(ctx, polled, deadline, `the service ${service} on ${recipe.host} to ${verb}`);
    }
    throw controlError(
      ctx.node,
      "timeout",
      `the service ${service} on ${recipe.host} is still ${scStatus(last ?? 0).raw} ${Math.round(ctx.timeoutMs / 1000)} s after sc.exe ${verb}`,
      `Look at the service on ${recipe.host} (services.msc, its Octopus server log); raise options.serviceCommandTimeoutSeconds if it only needs longer.`,
      argv("query"),
    );
  };

  return {
    description: `sc.exe ${unc} (service ${service})`,
    async stop() {
      // 1062: not started (already stopped); 1061: cannot accept the control now (already pending). Both: poll.
      const state = await sc("stop", [1062, 1061]);
      if (state !== 1) await waitFor(1, "stop");
    },
    async start() {
      // 1056: already running.
      const state = await sc("start", [1056]);
      if (state !== 4) await waitFor(4, "start");
    },
    async status() {
      return scStatus((await sc("query")) ?? 0);
    },
  };
}
