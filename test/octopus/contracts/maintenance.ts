/** Behaviours every MaintenanceMode implementation must have (REST adapter, in-memory fake). */
import { describe, expect, it } from "vitest";
import { useHarness } from "./lifecycle.js";
import type { MaintenanceMode } from "../../../src/octopus/types.js";

export interface MaintenanceHarness {
  port: MaintenanceMode;
  control: {
    /** The cluster's real maintenance flag, read behind the port's back. */
    current(): Promise<boolean>;
    /** Change it behind the port's back (another admin in the UI). */
    set(on: boolean): Promise<void>;
  };
  close(): Promise<void>;
}

export function describeMaintenanceContract(name: string, make: () => Promise<MaintenanceHarness>): void {
  describe(`MaintenanceMode contract: ${name}`, () => {
    const harness = useHarness(make);

    it("reads maintenance mode as the cluster has it", async () => {
      const h = harness();
      expect(await h.port.isOn()).toBe(false);
      await h.control.set(true);
      expect(await h.port.isOn()).toBe(true);
    });

    it("turning maintenance mode on changes the cluster, and off restores it", async () => {
      const h = harness();
      await h.port.set(true);
      expect(await h.control.current()).toBe(true);
      await h.port.set(false);
      expect(await h.control.current()).toBe(false);
    });

    it("turning it on when it is already on is harmless (a resumed step repeats it)", async () => {
      const h = harness();
      await h.port.set(true);
      await h.port.set(true);
      expect(await h.port.isOn()).toBe(true);
    });
  });
}
