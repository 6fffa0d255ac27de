/**
 * `sc.exe \\HOST query|stop|start <service>` over the simulated machines, in sc.exe's real output
 * format (CRLF, the query block, `[SC] <API> FAILED <code>:` + message, exit code = the Win32 error).
 * `stop`/`start` return at STOP_PENDING/START_PENDING, and the next `query` still says so: a caller
 * that takes sc's exit 0 for "done" is caught.
 */
import type { LookalikeConfig } from "./config.js";
import { hang, logCall, machine, machineService, type ExeRun } from "./machine.js";

const STATES: Record<number, string> = { 1: "STOPPED", 2: "START_PENDING", 3: "STOP_PENDING", 4: "RUNNING" };
const CONTROLS: Record<number, string> = {
  2: "(NOT_STOPPABLE, NOT_PAUSABLE, IGNORES_SHUTDOWN)",
  3: "(STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)",
  4: "(STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)",
};
const MESSAGES: Record<number, string> = {
  5: "Access is denied.",
  1056: "An instance of the service is already running.",
  1060: "The specified service does not exist as an installed service.",
  1062: "The service has not been started.",
  1722: "The RPC server is unavailable.",
};

const crlf = (lines: string[]) => `${lines.join("\r\n")}\r\n`;

/** The query block; `exitCode` is the process's exit status after a failed start (1067: it terminated unexpectedly). */
export function scBlock(service: string, state: number, withPid = false, exitCode = 0): string {
  const pending = state === 2 || state === 3;
  return crlf([
    "",
    `SERVICE_NAME: ${service} `,
    "        TYPE               : 10  WIN32_OWN_PROCESS  ",
    `        STATE              : ${state}  ${STATES[state]} `,
    ...(CONTROLS[state] ? [`                                ${CONTROLS[state]}`] : []),
    `        WIN32_EXIT_CODE    : ${exitCode}  (0x${exitCode.toString(16)})`,
    "        SERVICE_EXIT_CODE  : 0  (0x0)",
    `        CHECKPOINT         : ${pending ? "0x1" : "0x0"}`,
    `        WAIT_HINT          : ${pending ? "0x7530" : "0x0"}`,
    ...(withPid ? ["        PID                : 4242", "        FLAGS              : "] : []),
    "",
  ]);
}

export function scFailure(api: string, code: number): ExeRun {
  return { exitCode: code, stdout: crlf([`[SC] ${api} FAILED ${code}:`, "", MESSAGES[code] ?? "", ""]), stderr: "" };
}

/** The instance a service name belongs to: OctopusDeploy → OctopusServer, "OctopusDeploy: X" → X. */
export function instanceOfService(service: string): string | undefined {
  if (service.toLowerCase() === "octopusdeploy") return "OctopusServer";
  const m = /^OctopusDeploy: (.+)$/i.exec(service);
  return m ? m[1] : undefined;
}

const OPEN_SERVICE_API: Record<string, string> = {
  query: "EnumQueryServicesStatus:OpenService",
  stop: "OpenService",
  start: "StartService: OpenService",
};

const STATE_NUMBER: Record<string, number> = { STOPPED: 1, START_PENDING: 2, STOP_PENDING: 3, RUNNING: 4 };

/** The Win32 error a refusal of the machines model is, in sc.exe's words for this verb. */
function refusal(verb: string, code: string, win32: number | undefined): ExeRun {
  if (code === "unknownHost" || code === "unreachable") return scFailure("OpenSCManager", 1722);
  if (code === "accessDenied") return scFailure("OpenSCManager", 5);
  if (code === "serviceDoesNotExist") return scFailure(OPEN_SERVICE_API[verb]!, 1060);
  if (code === "serviceNotActive") return scFailure("ControlService", 1062);
  if (code === "serviceAlreadyRunning") return scFailure("StartService", 1056);
  if (code === "cannotAcceptControl") return scFailure("ControlService", 1061);
  return scFailure(verb === "start" ? "StartService" : "ControlService", win32 ?? 1064);
}

/**
 * sc.exe talks to the machine's service manager, not to Octopus.Server.exe: each verb is the stand-in's
 * machines model (STOP_PENDING/START_PENDING for a while after a control, its unreachable and
 * access-denied knobs), plus this look-alike's own faults (hang, no-service, denied, unreachable).
 */
export async function sc(config: LookalikeConfig, argv: string[]): Promise<ExeRun> {
  logCall(config, "sc", argv);
  const [unc, verb, service] = argv;
  if (!unc?.startsWith("\\\\") || !verb || !service || !["query", "stop", "start"].includes(verb))
    return {
      exitCode: 1639,
      stdout: "DESCRIPTION:\r\n        The look-alike simulates sc.exe \\\\HOST query|stop|start <service> only.\r\n",
      stderr: "",
    };
  const m = machine(config, unc.slice(2));
  if (m.fault === "hang") return hang();
  if (!m.spec || m.fault === "unreachable") return scFailure("OpenSCManager", 1722);
  if (m.fault === "denied") return scFailure("OpenSCManager", 5);
  if (m.fault === "no-service") return scFailure(OPEN_SERVICE_API[verb]!, 1060);
  const answer = await machineService(config, m.host, service, verb === "query" ? undefined : (verb as "stop" | "start"));
  if (!answer.ok) return refusal(verb, answer.code, answer.win32);
  return { exitCode: 0, stdout: scBlock(service, STATE_NUMBER[answer.state] ?? 1, verb === "start", answer.win32ExitCode), stderr: "" };
}
