/** Test steps that change a small JSON "world" file, a recording view, and temp state dirs. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ApprovalRequest, RunNotice, RunObserver } from "../../src/model/run.js";
import { RollbackRefused, type Step } from "../../src/runner/step.js";

export function tempDir(prefix = "octoha-runner-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export type World = Record<string, string>;

export function readWorld(file: string): World {
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as World) : {};
}

function writeWorld(file: string, w: World): void {
  writeFileSync(file, JSON.stringify(w));
}

export interface SetResult {
  before: string | null;
}

export interface SettingStepOptions {
  /** Undo log: every rollback appends its step id here, so tests see the order. */
  undoLog: string[];
  requiresApproval?: boolean;
  refuseRollback?: string;
  failApply?: Error;
  onFailure?: "stop" | "rollback";
}

/** A step that sets world[key] = value, recording the before-state in its first checkpoint. */
export function settingStep(worldFile: string, id: string, key: string, value: string, o: SettingStepOptions): Step<SetResult> {
  return {
    id,
    title: `set ${key} to ${value}`,
    ...(o.requiresApproval ? { requiresApproval: true } : {}),
    policy: { attempts: 1, backoffMs: 1, ...(o.onFailure ? { onFailure: o.onFailure } : {}) },
    inspect: () =>
      Promise.resolve({ changes: [{ action: "update", target: key, after: value, summary: `${key} becomes ${value}` }], findings: [] }),
    async apply(ctx, last) {
      const before = last ? last.before : (readWorld(worldFile)[key] ?? null);
      if (!last) await ctx.checkpoint({ before });
      if (o.failApply) throw o.failApply;
      writeWorld(worldFile, { ...readWorld(worldFile), [key]: value });
      return { before };
    },
    verify: (_ctx, _r) => Promise.resolve({ ok: readWorld(worldFile)[key] === value, summary: `${key} is ${readWorld(worldFile)[key]}` }),
    rollback(_ctx, r) {
      if (o.refuseRollback) return Promise.reject(new RollbackRefused(id, o.refuseRollback));
      const w = readWorld(worldFile);
      if (r.before === null) delete w[key];
      else w[key] = r.before;
      writeWorld(worldFile, w);
      o.undoLog.push(id);
      return Promise.resolve();
    },
  };
}

export class RecordingView implements RunObserver {
  readonly notices: RunNotice[] = [];
  readonly questions: ApprovalRequest[] = [];
  constructor(private readonly answer = false) {}
  notify(n: RunNotice): void {
    this.notices.push(n);
  }
  confirm(request: ApprovalRequest): Promise<boolean> {
    this.questions.push(request);
    return Promise.resolve(this.answer);
  }
}
