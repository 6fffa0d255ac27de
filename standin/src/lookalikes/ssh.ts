/**
 * `ssh [-o opt]… [user@]HOST [sudo -n] systemctl stop|start|is-active <unit>` over the simulated
 * machines, with OpenSSH's and systemd's real messages and exit codes (255 for ssh's own failures,
 * is-active 0/3, `Unit … not loaded` 5, polkit's refusal without sudo).
 */
import type { LookalikeConfig } from "./config.js";
import { hang, logCall, machine, machineService, runServerExe, type ExeRun } from "./machine.js";

const UNIT_STATES: Record<string, string> = {
  RUNNING: "active",
  STOPPED: "inactive",
  STOP_PENDING: "deactivating",
  START_PENDING: "activating",
};

export async function ssh(config: LookalikeConfig, argv: string[]): Promise<ExeRun> {
  logCall(config, "ssh", argv);
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith("-")) i += argv[i] === "-o" ? 2 : 1;
  const target = argv[i];
  const words = argv.slice(i + 1);
  if (!target || words.length === 0) return { exitCode: 255, stdout: "", stderr: "usage: ssh [options] destination command\n" };
  const [user, host] = target.includes("@") ? [target.slice(0, target.indexOf("@")), target.slice(target.indexOf("@") + 1)] : ["", target];
  const m = machine(config, host);
  if (m.fault === "hang") return hang();
  if (!m.spec)
    return { exitCode: 255, stdout: "", stderr: `ssh: Could not resolve hostname ${host.toLowerCase()}: Name or service not known\r\n` };
  if (m.fault === "unreachable")
    return { exitCode: 255, stdout: "", stderr: `ssh: connect to host ${host} port 22: Connection refused\r\n` };
  if (m.fault === "denied") return { exitCode: 255, stdout: "", stderr: `${user || "octoha"}@${host}: Permission denied (publickey).\r\n` };
  const sudo = words[0] === "sudo";
  const cmd = sudo ? words.slice(words[1] === "-n" ? 2 : 1) : words;
  if (sudo && m.fault === "sudo-password") return { exitCode: 1, stdout: "", stderr: "sudo: a password is required\n" };
  const [tool, verb, unit] = cmd;
  if (tool !== "systemctl" || !verb || !unit)
    return { exitCode: 127, stdout: "", stderr: `bash: ${tool ?? ""}: simulated only: systemctl\n` };
  const known = unit.replace(/\.service$/, "") === m.spec.unit && m.fault !== "no-service";
  // The unit runs the machine's default instance; its state is that service's (machines model).
  const answer = known ? await machineService(config, m.host, "OctopusDeploy") : undefined;
  const running = answer?.ok === true && answer.state === "RUNNING";
  if (verb === "is-active") {
    // systemd: a unit it does not have is "inactive" too.
    // A unit whose process exited while starting is "failed" (still exit 3).
    const word = answer?.ok ? (answer.win32ExitCode ? "failed" : (UNIT_STATES[answer.state] ?? "inactive")) : "inactive";
    return { exitCode: word === "active" ? 0 : 3, stdout: `${word}\n`, stderr: "" };
  }
  if (verb !== "stop" && verb !== "start") return { exitCode: 1, stdout: "", stderr: `Unknown command verb ${verb}.\n` };
  const name = unit.endsWith(".service") ? unit : `${unit}.service`;
  const failed = `Failed to ${verb} ${name}`;
  if (!sudo && user !== "root")
    return {
      exitCode: 1,
      stdout: "",
      stderr: `${failed}: Interactive authentication required.\nSee system logs and 'systemctl status ${name}' for details.\n`,
    };
  if (!known) return { exitCode: 5, stdout: "", stderr: `${failed}: Unit ${name} not loaded.\n` };
  if ((verb === "stop") !== running) return { exitCode: 0, stdout: "", stderr: "" };
  // The unit's ExecStart/ExecStop: the machine's own Octopus.Server for its one instance.
  const r = await runServerExe(config, m.spec, verb, "OctopusServer");
  return r.exitCode === 0 ? { exitCode: 0, stdout: "", stderr: "" } : { exitCode: 1, stdout: "", stderr: `${failed}: ${r.stderr}` };
}
