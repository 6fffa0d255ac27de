/**
 * provision-storage: creates the shared target folders that do not exist yet. It records each
 * folder before creating it, so rollback removes only folders this run created, and only once
 * they hold no file (the copies stay unless the rollback is given --remove-copies; what stays is listed).
 */
import { mkdir, readdir, rmdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Step, StepContext } from "../runner/step.js";
import type { Change } from "../model/preview.js";
import { countOf } from "../shared/plural.js";

export interface ProvisionResult {
  /** Folders (access paths) this run created: the outermost one created for each target. */
  created: string[];
}

export interface ProvisionDeps {
  /** Shared targets as this process reaches them. */
  targets: string[];
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

export function createProvisionStorageStep(deps: ProvisionDeps): Step<ProvisionResult, "provision-storage"> {
  return {
    id: "provision-storage",
    title: "Create the shared folders",
    async inspect() {
      const changes: Change[] = [];
      for (const t of deps.targets) {
        changes.push(
          (await exists(t))
            ? { action: "noop", target: t, summary: `${t} exists` }
            : { action: "create", target: t, before: "absent", after: "folder", summary: `create ${t}` },
        );
      }
      return { changes, findings: [] };
    },
    // Every folder was there already: nothing for a rollback to remove, nothing that blocks a new run.
    changedNothing: (r) => r.created.length === 0,
    async apply(ctx: StepContext, last) {
      const created = [...(last?.created ?? [])];
      for (const t of deps.targets) {
        if (await exists(t)) continue;
        // mkdir returns the first folder it created: that is what rollback may remove.
        const first = await mkdir(t, { recursive: true });
        if (first) {
          created.push(first);
          await ctx.checkpoint({ created });
        }
      }
      return { created };
    },
    async verify(_ctx, _r) {
      const missing: string[] = [];
      for (const t of deps.targets) if (!(await exists(t))) missing.push(t);
      return {
        ok: missing.length === 0,
        summary: missing.length === 0 ? "every shared folder exists" : `${countOf(missing.length, "shared folder")} missing`,
        problems: missing,
      };
    },
    async rollback(ctx, r) {
      for (const dir of [...r.created].reverse()) {
        if (!(await exists(dir))) continue;
        const files = await filesIn(dir, LISTED + 1);
        if (files.length === 0) {
          await removeEmptyTree(dir);
          continue;
        }
        const list = files
          .slice(0, LISTED)
          .map((f) => `      ${f}`)
          .join("\n");
        const why =
          "A rollback removes only copies it can prove this run made (with --remove-copies); quarantined copies, files a killed copy had not recorded yet, and anyone else's stay";
        const more = files.length > LISTED ? "\n      …" : "";
        ctx.emit({
          level: "warn",
          message: `Left ${dir} in place: it holds files. ${why}:\n${list}${more}`,
          data: { path: dir, files: files.slice(0, LISTED) },
        });
      }
    },
  };
}

const LISTED = 20;

/** Up to `limit` files (anything but a folder) under dir. */
async function filesIn(dir: string, limit: number): Promise<string[]> {
  const found: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (found.length >= limit) break;
    const at = path.join(dir, e.name);
    if (e.isDirectory()) found.push(...(await filesIn(at, limit - found.length)));
    else found.push(at);
  }
  return found;
}

async function removeEmptyTree(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) await removeEmptyTree(path.join(dir, e.name));
  await rmdir(dir);
}
