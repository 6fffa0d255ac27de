/**
 * `powershell.exe -NoProfile -NonInteractive -Command "<script>"` for the scripts octoha's winrm recipe
 * writes: `Invoke-Command -ComputerName '<host>' … -ArgumentList '<a>', '<b>'`, running the machine's
 * own Octopus.Server executable or Get-Service there. Connection failures print PowerShell's real
 * error records (FullyQualifiedErrorId) and exit 1; anything else it does not understand fails loudly.
 */
import type { LookalikeConfig } from "./config.js";
import type { LookalikeHost } from "./config.js";
import {
  hang,
  hasInstance,
  logCall,
  machine,
  machineService,
  machineTestPath,
  runServerExe,
  runServerExeArgs,
  unknownInstance,
  type ExeRun,
} from "./machine.js";

/** ServiceControllerStatus names, as Get-Service prints them. */
const STATUS_NAMES: Record<string, string> = {
  RUNNING: "Running",
  STOPPED: "Stopped",
  STOP_PENDING: "StopPending",
  START_PENDING: "StartPending",
};

const literal = /'((?:[^'\u2018\u2019\u201a\u201b]|['\u2018\u2019\u201a\u201b]{2})*)'/g;
const unquote = (s: string) => s.replace(/(['\u2018\u2019\u201a\u201b])\1/g, "$1");

function remoteError(host: string, message: string, id: string): ExeRun {
  const text =
    `[${host}] Connecting to remote server ${host} failed with the following error message : ${message} ` +
    "For more information, see the about_Remote_Troubleshooting Help topic.\n" +
    `    + CategoryInfo          : OpenError: (${host}:String) [], PSRemotingTransportException\n` +
    `    + FullyQualifiedErrorId : ${id},PSSessionStateBroken\n`;
  return { exitCode: 1, stdout: "", stderr: text };
}

const UNREACHABLE =
  "WinRM cannot complete the operation. Verify that the specified computer name is valid, that the computer is accessible over the network, " +
  "and that a firewall exception for the WinRM service is enabled and allows access from this computer. By default, the WinRM firewall exception " +
  "for public profiles limits access to remote computers within the same local subnet.";

/**
 * `-ArgumentList '<exe>', @('<arg>', $env:NAME, …)`: the machine's Octopus.Server with those arguments. `$env:NAME` is
 * this (local) PowerShell's variable, expanded here and carried to the remote side as a value, as real remoting does.
 */
async function runServerCommand(config: LookalikeConfig, spec: LookalikeHost, script: string): Promise<ExeRun> {
  const m = /-ArgumentList ('(?:[^']|'')*'), @\(((?:\s*(?:'(?:[^']|'')*'|\$env:[A-Za-z_][A-Za-z0-9_]*)\s*,?)*)\)/.exec(script);
  if (!m) return { exitCode: 1, stdout: "", stderr: "The look-alike understands only octoha's Invoke-Command scripts.\n" };
  const exe = unquote(m[1]!.slice(1, -1));
  const items = [...m[2]!.matchAll(/'((?:[^']|'')*)'|\$env:([A-Za-z_][A-Za-z0-9_]*)/g)].map((x) =>
    x[2] !== undefined ? (process.env[x[2]] ?? "") : unquote(x[1]!),
  );
  if (exe.toLowerCase() !== spec.windowsExe.toLowerCase())
    return {
      exitCode: 1,
      stdout: "",
      stderr: `The term '${exe}' is not recognized as the name of a cmdlet, function, script file, or operable program.\n`,
    };
  const r = await runServerExeArgs(config, spec, items);
  return { exitCode: r.exitCode, stdout: `${r.stdout}${r.stderr}`, stderr: "" };
}

export async function powershell(config: LookalikeConfig, argv: string[]): Promise<ExeRun> {
  logCall(config, "powershell", argv);
  const i = argv.findIndex((a) => /^-c(ommand)?$/i.test(a));
  const script = i >= 0 ? argv[i + 1] : undefined;
  const host = script ? /Invoke-Command -ComputerName '((?:[^']|'')*)'/.exec(script)?.[1] : undefined;
  const list = script ? /-ArgumentList ((?:'(?:[^']|'')*'(?:, )?)+)/.exec(script)?.[1] : undefined;
  if (!script || host === undefined || list === undefined)
    return { exitCode: 1, stdout: "", stderr: "The look-alike understands only octoha's Invoke-Command scripts.\n" };
  const args = [...list.matchAll(literal)].map((m) => unquote(m[1]!));
  const m = machine(config, unquote(host));
  if (m.fault === "hang") return hang();
  if (!m.spec || m.fault === "unreachable") return remoteError(m.host, UNREACHABLE, "WinRMOperationTimeout");
  if (m.fault === "denied") return remoteError(m.host, "Access is denied.", "AccessDenied");
  if (/Test-Path -LiteralPath \$p/.test(script)) {
    const exists = await machineTestPath(config, m.host, args[0] ?? "");
    return { exitCode: 0, stdout: `${exists ? "True" : "False"}\r\n`, stderr: "" };
  }
  if (/& \$exe @a/.test(script)) return runServerCommand(config, m.spec, script);
  if (/Get-Service/.test(script)) {
    const service = args[0] ?? "";
    const answer =
      m.fault === "no-service" ? ({ ok: false, code: "serviceDoesNotExist" } as const) : await machineService(config, m.host, service);
    if (answer.ok) return { exitCode: 0, stdout: `${STATUS_NAMES[answer.state] ?? answer.state}\r\n`, stderr: "" };
    if (answer.code === "unknownHost" || answer.code === "unreachable") return remoteError(m.host, UNREACHABLE, "WinRMOperationTimeout");
    if (answer.code === "accessDenied") return remoteError(m.host, "Access is denied.", "AccessDenied");
    return {
      exitCode: 1,
      stdout: "",
      stderr:
        `Cannot find any service with service name '${service}'.\n` +
        `    + CategoryInfo          : ObjectNotFound: (${service}:String) [Get-Service], ServiceCommandException\n` +
        "    + FullyQualifiedErrorId : NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand\n" +
        `    + PSComputerName        : ${m.host}\n`,
    };
  }
  const action = /service --(stop|start) /.exec(script)?.[1] as "stop" | "start" | undefined;
  const [exe, instance] = args;
  if (!action || exe === undefined || instance === undefined)
    return { exitCode: 1, stdout: "", stderr: "The look-alike understands only octoha's Invoke-Command scripts.\n" };
  if (exe.toLowerCase() !== m.spec.windowsExe.toLowerCase())
    return {
      exitCode: 1,
      stdout: "",
      stderr:
        `The term '${exe}' is not recognized as the name of a cmdlet, function, script file, or operable program.\n` +
        "    + FullyQualifiedErrorId : CommandNotFoundException\n",
    };
  const known = hasInstance(m.spec, instance);
  // The remote tool's output and exit code come back through the script block's result object.
  const r =
    known === undefined || m.fault === "no-service" ? unknownInstance(m.spec, instance) : await runServerExe(config, m.spec, action, known);
  return { exitCode: r.exitCode, stdout: `${r.stdout}${r.stderr}`, stderr: "" };
}
