/** How the octopus-server executable finds the running stand-in (kept tiny: the executable imports it). */

export const CONTROL_FILE = "standin-control.json";
/** Env var the octopus-server executable reads: path of the control file. */
export const CONTROL_ENV = "OCTOHA_STANDIN_CONTROL";
/** Env var naming the machine (host name = node name) an executable runs on; else the control file's localMachine. */
export const MACHINE_ENV = "OCTOHA_STANDIN_MACHINE";

/** What the control file holds. */
export interface ControlInfo {
  controlUrl: string;
  token: string;
  nodes: string[];
  /** The machine octoha runs on: where an executable without OCTOHA_STANDIN_MACHINE runs. */
  localMachine: string;
}
