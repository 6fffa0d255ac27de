/**
 * NodeServices through `Octopus.Server.exe service --stop/--start --instance NAME`, or the plan's
 * per-node argv for nodes this machine cannot reach with the local executable.
 */
import type { NodeServices, ServiceState } from "../types.js";
import { runExe, type ExeRunOptions } from "./exec.js";

export interface NodeServicesOptions extends ExeRunOptions {
  /** Octopus.Server.exe as an argv prefix. */
  command: string[];
  /** The --instance to pass for a node (default: the same instance name for every node). */
  instanceFor: (nodeName: string) => string;
  /** Per-node replacements from the plan (nodes[].service). */
  perNode?: Record<string, { stop?: string[]; start?: string[] }>;
  /** How to tell a node's service state (e.g. from its ping); "unknown" without it. */
  probe?: (nodeName: string) => Promise<ServiceState>;
}

export class CliNodeServices implements NodeServices {
  constructor(private readonly o: NodeServicesOptions) {}

  stop(nodeName: string): Promise<void> {
    return this.run(nodeName, "stop");
  }

  start(nodeName: string): Promise<void> {
    return this.run(nodeName, "start");
  }

  state(nodeName: string): Promise<ServiceState> {
    return this.o.probe ? this.o.probe(nodeName) : Promise.resolve("unknown");
  }

  private async run(nodeName: string, action: "stop" | "start"): Promise<void> {
    const custom = this.o.perNode?.[nodeName]?.[action];
    const argv = custom ?? [...this.o.command, "service", `--${action}`, `--instance=${this.o.instanceFor(nodeName)}`];
    await runExe(argv, { ...this.o, node: nodeName });
  }
}
