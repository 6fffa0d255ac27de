/** How the octopus-server executable finds the running stand-in (kept tiny: the executable imports it). */

export const CONTROL_FILE = "standin-control.json";
/** Env var the octopus-server executable reads: path of the control file. */
export const CONTROL_ENV = "OCTOHA_STANDIN_CONTROL";
/** Env var naming the node the executable acts as (else --instance must name a node). */
export const NODE_ENV = "OCTOHA_STANDIN_NODE";

/** What the control file holds. */
export interface ControlInfo {
  controlUrl: string;
  token: string;
  nodes: string[];
  instance: string;
}
