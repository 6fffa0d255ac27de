/** What the node-control look-alikes (sc, powershell, ssh) read: which host is which stand-in node, and faults. */

/** A fault a host shows to every look-alike: its service manager refuses, it cannot be reached, a command hangs, or no Octopus service. */
export type HostFault = "denied" | "unreachable" | "hang" | "no-service" | "sudo-password";

export interface LookalikeHost {
  /** The stand-in node this machine runs. */
  node: string;
  /** Octopus instances installed on this machine (default: OctopusServer, as real installs are). */
  instances: string[];
  /** Where Octopus.Server.exe is installed on this Windows machine (what a winrm script must name). */
  windowsExe: string;
  /** The systemd unit running Octopus on this Linux machine. */
  unit: string;
}

export interface LookalikeConfig {
  /** The stand-in's control file (control URL and token). */
  controlFile: string;
  /** By upper-cased host name. */
  hosts: Record<string, LookalikeHost>;
  /** JSON { HOST: fault } (rewritten by setFault). */
  faultsFile: string;
  /** One JSON line per call: { tool, argv }. */
  callsFile: string;
  /** Scratch space of the look-alikes. */
  stateDir: string;
}

export const CONFIG_ENV = "OCTOHA_LOOKALIKE_CONFIG";
export const DEFAULT_WINDOWS_EXE = "C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe";
export const DEFAULT_UNIT = "octopusdeploy";
