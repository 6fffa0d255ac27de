/** Behaviours every NodeServices implementation must have. */
import { describe, expect, it } from "vitest";
import { useHarness } from "./lifecycle.js";
import type { NodeServices } from "../../../src/octopus/types.js";

export interface ServicesHarness {
  port: NodeServices;
  control: {
    nodeNames: string[];
    /** Whether the node's service really runs, read behind the port's back. */
    isRunning(nodeName: string): Promise<boolean>;
  };
  close(): Promise<void>;
}

export function describeServicesContract(name: string, make: () => Promise<ServicesHarness>): void {
  describe(`NodeServices contract: ${name}`, () => {
    const harness = useHarness(make);

    it("stopping one node stops that node only, and its state is no longer running", async () => {
      const h = harness();
      const [first, second] = h.control.nodeNames;
      await h.port.stop(first!);
      expect(await h.control.isRunning(first!)).toBe(false);
      expect(await h.control.isRunning(second!)).toBe(true);
      expect(await h.port.state(first!)).not.toBe("running");
    });

    it("starting a stopped node runs it again", async () => {
      const h = harness();
      const [first] = h.control.nodeNames;
      await h.port.stop(first!);
      await h.port.start(first!);
      expect(await h.control.isRunning(first!)).toBe(true);
      expect(await h.port.state(first!)).not.toBe("stopped");
    });

    it("stopping a node that is already stopped is harmless (a resumed step repeats it)", async () => {
      const h = harness();
      const [first] = h.control.nodeNames;
      await h.port.stop(first!);
      await h.port.stop(first!);
      expect(await h.control.isRunning(first!)).toBe(false);
    });
  });
}
