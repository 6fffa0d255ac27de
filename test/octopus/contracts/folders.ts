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
  };
  close(): Promise<void>;
}

export function describeFoldersContract(name: string, make: () => Promise<FoldersHarness>): void {
  describe(`ServerFolders contract: ${name}`, () => {
    const harness = useHarness(make);

    it("reads the task logs, artifacts and packages folders as stored", async () => {
      const h = harness();
      const read = await h.port.read();
      const stored = await h.control.stored();
      expect(read.taskLogs).toBe(stored.taskLogs);
      expect(read.artifacts).toBe(stored.artifacts);
      expect(read.packages).toBe(stored.packages);
    });

    it("writes only the folders given and leaves the others as they were", async () => {
      const h = harness();
      const before = await h.control.stored();
      await h.port.write({ taskLogs: "\\\\fs01\\OctopusShared\\TaskLogs" });
      const after = await h.control.stored();
      expect(after.taskLogs).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
      expect(after.artifacts).toBe(before.artifacts);
      expect((await h.port.read()).taskLogs).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
    });

    it("refuses a folder the server version does not have, and changes nothing", async () => {
      const h = harness();
      const has = featuresOf(h.control.version);
      const before = await h.control.stored();
      const attempt = h.port.write({ taskLogs: "\\\\fs01\\x\\TaskLogs", ...(has.eventExports ? {} : { eventExports: "\\\\fs01\\x\\EventExports" }), ...(has.imports ? {} : { imports: "\\\\fs01\\x\\Imports" }) });
      if (has.eventExports && has.imports) {
        await attempt;
        return;
      }
      await expect(attempt).rejects.toBeInstanceOf(OctohaError);
      expect(await h.control.stored()).toEqual(before);
    });
  });
}
