/** Behaviours every ServerFolders implementation must have. */
import { describe, expect, it } from "vitest";
import { useHarness } from "./lifecycle.js";
import { OctohaError } from "../../../src/shared/errors.js";
import { featuresOf } from "../../../src/octopus/versions.js";
import type { ServerFolderPaths, ServerFolders } from "../../../src/octopus/types.js";

export interface FoldersHarness {
  port: ServerFolders;
  control: {
    /** The server version being simulated. */
    version: string;
    /** The folders stored cluster-wide, read behind the port's back. */
    stored(): Promise<ServerFolderPaths>;
    /** The server's Home folder (Octopus.Home). */
    home: string;
  };
  close(): Promise<void>;
}

export function describeFoldersContract(name: string, make: () => Promise<FoldersHarness>): void {
  describe(`ServerFolders contract: ${name}`, () => {
    const harness = useHarness(make);

    it("reads the task logs, artifacts and packages folders as stored", async () => {
      const h = harness();
      const read = (await h.port.read()).stored;
      const stored = await h.control.stored();
      expect(read.taskLogs).toBe(stored.taskLogs);
      expect(read.artifacts).toBe(stored.artifacts);
      expect(read.packages).toBe(stored.packages);
    });

    it("a folder nobody set reads as unset, with the folder it resolves to: ClusterShared the Home folder, the kinds under it", async () => {
      const h = harness();
      const has = featuresOf(h.control.version);
      const { stored, defaults } = await h.port.read();
      expect(stored.clusterShared).toBeUndefined();
      expect(stored.imports).toBeUndefined();
      if (has.clusterShared) expect(defaults.clusterShared).toBe(h.control.home);
      if (has.imports) expect(defaults.imports).toBe(`${h.control.home}\\Imports`);
      if (!has.eventExports) expect(defaults.eventExports).toBeUndefined();
      expect(defaults.taskLogs).toBeUndefined(); // it is set

      await h.port.write({ clusterShared: "\\\\fs01\\OctopusShared" });
      const after = await h.port.read();
      expect(after.stored.clusterShared).toBe("\\\\fs01\\OctopusShared");
      if (has.imports) expect(after.defaults.imports).toBe("\\\\fs01\\OctopusShared\\Imports");
    });

    it("writes only the folders given and leaves the others as they were", async () => {
      const h = harness();
      const before = await h.control.stored();
      await h.port.write({ taskLogs: "\\\\fs01\\OctopusShared\\TaskLogs" });
      const after = await h.control.stored();
      expect(after.taskLogs).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
      expect(after.artifacts).toBe(before.artifacts);
      expect((await h.port.read()).stored.taskLogs).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
    });

    it("refuses a folder the server version does not have, and changes nothing", async () => {
      const h = harness();
      const has = featuresOf(h.control.version);
      const before = await h.control.stored();
      const attempt = h.port.write({
        taskLogs: "\\\\fs01\\x\\TaskLogs",
        ...(has.eventExports ? {} : { eventExports: "\\\\fs01\\x\\EventExports" }),
        ...(has.imports ? {} : { imports: "\\\\fs01\\x\\Imports" }),
      });
      if (has.eventExports && has.imports) {
        await attempt;
        return;
      }
      await expect(attempt).rejects.toBeInstanceOf(OctohaError);
      expect(await h.control.stored()).toEqual(before);
    });
  });
}
