/**
 * What to do with one file, each tactic a short method: skip-if-same, copy (verify + rename),
 * collision by policy with the loser quarantined. Every write sits behind the dry-run guard.
 */
import path from "node:path";
import { OctohaError } from "../shared/errors.js";
import type { FileOps, FileStat } from "./file-ops.js";
import { classifyFsError, withRetry } from "./copy-errors.js";
import { CopyAborted, TargetAppeared, compareLeftByKill, copyToFreeName, copyVerifyRename, hashFile } from "./copy-file.js";
import { quarantineFile, wouldQuarantineAt } from "./copy-file.js";
import { originOf, sameMtime, withdrawal, type ManifestIndex, type ManifestWriter } from "./manifest.js";
import type { FileJob, Problem } from "./jobs.js";
import { joinUnder } from "./under-root.js";
import { OwnFolders, commonFolder } from "./own-folders.js";
import { STATE_FOLDER, TEMP_SUFFIX } from "./walk.js";
import type { TargetReservations } from "./reservations.js";
import type { CollisionPolicy, CopySummary, ManifestRecord, TaskLogOwner, VerifyMode } from "./types.js";
import type { Collision, CollisionKind } from "../model/copy-results.js";

export interface Settings {
  ops: FileOps;
  source: string;
  target: string;
  /** The source folder's identity (source-identity.ts; manifest-sources.ts tells remounted folders apart); undefined when it could not be read. */
  sourceId: string | undefined;
  /** The source folder's birth time, when its file system keeps one and the manifest's sources file has yet to record it. */
  sourceBorn?: number | undefined;
  /** Written into each manifest record of a file this copy writes. */
  runTag: string | undefined;
  /** The source's label (quarantine folder, reports). */
  node: string;
  verify: VerifyMode;
  policy: CollisionPolicy;
  quarantineRoot: string;
  dryRun: boolean;
  signal: AbortSignal | undefined;
  taskLogOwner: TaskLogOwner | undefined;
  /** Dry-run only: earlier sources' would-be copies (read) and this source's (recorded). */
  reservations: TargetReservations | undefined;
  retry: { attempts: number; baseDelayMs: number };
  /** Every collision as it is decided (the summary lists only the first COLLISION_LIMIT). */
  onCollision: ((c: Collision) => void) | undefined;
  concurrency: number;
  /** No --concurrency given: the small-file limit may climb on a share (pool.ts, ConcurrencyClimber). */
  adaptive: boolean;
  largeConcurrency: number;
}

/** Collisions listed in a summary; beyond this only counted (collisionsOmitted, collisionsByKind). */
export const COLLISION_LIMIT = 1000;

/** The node name used for a target copy that loses to an incoming one (we cannot know who wrote it). */
const EXISTING_TARGET_NODE = "existing-target";

function abs(root: string, relPath: string): string {
  return path.join(root, ...relPath.split("/"));
}

export class FileTactics {
  writer: ManifestWriter | undefined;
  /** State folders at the source root already warned about (both passes list the root). */
  private readonly stateFoldersTold = new Set<string>();
  /** The quarantine, its folders made from where the target's and its own paths meet (never through a link). */
  private readonly quarantine: { root: string; folders: OwnFolders };

  constructor(
    private readonly s: Settings,
    private readonly manifest: ManifestIndex,
    private readonly summary: CopySummary,
  ) {
    this.quarantine = { root: s.quarantineRoot, folders: new OwnFolders(s.ops, commonFolder(s.target, s.quarantineRoot)) };
  }

  /**
   * A state folder at the source root (`.octoha` in any case) is never copied: it holds another
   * copy's manifest and quarantine, and on a Windows share it would land in the target's own (its
   * manifest, lock and quarantine). Silently left out, quarantined files were lost from the copy.
   */
  stateFolderLeftOut(name: string): void {
    if (this.stateFoldersTold.has(name)) return;
    this.stateFoldersTold.add(name);
    const where = abs(this.s.source, name);
    (this.summary.warnings ??= []).push(
      name === STATE_FOLDER
        ? `'${where}' is an octoha state folder (a copy's manifest and quarantine): not copied. To copy quarantined files, copy that folder on its own into another target.`
        : `'${where}' is not copied: on a Windows share it is the same folder as the target's ${STATE_FOLDER}, octoha's state folder (manifest, lock, quarantine). Rename it to copy it with the rest, or copy it on its own into another target.`,
    );
  }

  /** Planning: true when the target already holds this file and no hashing is needed to know it. */
  isCheapSkip(job: FileJob): boolean {
    return job.kind === "same-name" && job.targetStat !== undefined && this.trustedSame(job, job.targetStat);
  }

  /**
   * Size and mtime equal, and the manifest vouches for the target as this very source file's bytes
   * (written from it, or found equal to it), whatever --verify says: size and mtime say nothing about
   * whose file it is. Two nodes' logs of one name, size and time are common, and a manifest that has
   * no record of the target (another --state-dir, a deleted manifest, robocopy) cannot tell them
   * apart; skipped on size and mtime, the other node's log was never copied. A file it does not vouch
   * for is hashed once, and then recorded as `same`. For size and none an empty file needs no hash:
   * its size is all its bytes.
   */
  private trustedSame(job: FileJob, t: FileStat): boolean {
    if (!t.isFile || t.size !== job.entry.size || !sameMtime(t.mtimeMs, job.entry.mtimeMs)) return false;
    // Another node's would-be copy (dry-run): another source's file, as the real run's record will say: compare bytes.
    if (job.virtualAt !== undefined) return false;
    if (t.size === 0 && this.s.verify !== "sha256") return true;
    const origin = this.originOf(job);
    return origin !== undefined && this.manifest.vouchesFor(job.targetRelPath, t.size, t.mtimeMs, origin);
  }

  /**
   * Dry-run: do a job that needs no system call (a name free at the target, a cheap skip) right
   * here, without the pool's promises: most of a million-file dry-run. False when it needs the pool.
   */
  doneWithoutIo(job: FileJob | Problem): boolean {
    if (!this.s.dryRun || !("kind" in job)) return false;
    if (job.kind === "new") this.countNewDry(job);
    else if (this.isCheapSkip(job)) this.skipped(job, job.targetStat!);
    else return false;
    job.settle?.();
    return true;
  }

  /**
   * A job was queued: a file it will create under a free name has its intent written ahead, with
   * the next manifest batch (ManifestWriter.announce), the very record writeToTarget asks for.
   */
  queued(job: FileJob | Problem): void {
    if (this.writer && "kind" in job && job.kind === "new") this.writer.announce(this.openIntent(job));
  }

  /** Do the job. Returns true when it was counted as work (progress), false for a cheap skip. */
  async process(job: FileJob | Problem, signal: AbortSignal): Promise<boolean> {
    try {
      if (!("kind" in job)) return this.problem(job);
      try {
        return await this.dispatch(job, signal);
      } finally {
        job.settle?.();
      }
    } catch (error) {
      if (error instanceof CopyAborted) return false;
      const e = error instanceof OctohaError ? error : classifyFsError(error, { side: "target", path: this.s.target });
      if (e.behaviour !== "continue") throw e;
      this.summary.errors.push({ relPath: "entry" in job ? job.entry.relPath : "", code: e.code, message: e.describe() });
      return true;
    }
  }

  private problem(job: Problem): boolean {
    const where = abs(this.s.source, job.entry.relPath);
    if (job.entry.type === "error") throw classifyFsError(job.entry.error, { side: "source", path: where });
    if (job.entry.type === "state-name") {
      this.summary.errors.push({
        relPath: job.entry.relPath,
        code: "COPY_STATE_NAME",
        message: `'${where}' is a file named like octoha's state folder (${STATE_FOLDER}) and was not copied\n  On a Windows share it would be the same name as the target's ${STATE_FOLDER} folder (manifest, lock, quarantine); rename it on the node and run the copy again.`,
      });
      return true;
    }
    if (job.entry.type === "temp-name") {
      const what = job.entry.isDirectory
        ? `a folder whose name ends in ${TEMP_SUFFIX}: it and everything in it were`
        : `a file whose name ends in ${TEMP_SUFFIX}: it was`;
      this.summary.errors.push({
        relPath: job.entry.relPath,
        code: "COPY_TEMP_NAME",
        message: `'${where}' is ${what} not copied\n  octoha's temp files end so, and at the target it would look like one; rename it on the node and run the copy again.`,
      });
      return true;
    }
    this.summary.errors.push({
      relPath: job.entry.relPath,
      code: "COPY_NOT_A_FILE",
      message: `'${where}' is a symbolic link or special file and was not copied\n  Octopus writes only regular files here; copy its target by hand if it matters.`,
    });
    return true;
  }

  private async dispatch(job: FileJob, signal: AbortSignal): Promise<boolean> {
    // Jobs queued in the pool start after an interrupt too: they do nothing (not even make their folder).
    if (signal.aborted) throw new CopyAborted();
    if (job.kind === "new") {
      await this.copyNew(job, signal);
      return true;
    }
    if (job.kind === "file-vs-folder") {
      await this.loseIncoming(
        job,
        "file-vs-folder",
        "the target has a folder where the source has a file, or a file or a link where the source has a folder (octoha never writes through a link)",
        undefined,
        signal,
      );
      return true;
    }
    await job.waitFor;
    let targetAbs = job.virtualAt ?? abs(this.s.target, job.targetRelPath);
    let t: FileStat | undefined;
    const held = this.s.dryRun && job.holder !== undefined && job.holder.from.length > 0 ? job.holder : undefined;
    if (held) {
      // Dry-run wrote nothing: what the run finds there is what an earlier variant's job left (a
      // source file it copied, or kept as the target's bytes), so it is compared with that file.
      targetAbs = abs(this.s.source, held.from[0]!);
      t = { size: held.size, mtimeMs: held.mtimeMs, atimeMs: held.mtimeMs, isFile: true, isDirectory: false };
    }
    // The folder listing's facts are as fresh as an lstat now; a name this run wrote needs a stat.
    else t = job.targetStat ?? (await this.s.ops.stat(targetAbs).catch(() => undefined));
    if (!t) {
      await this.copyNew(job, signal);
      return true;
    }
    if (!t.isFile) {
      await this.loseIncoming(job, "file-vs-folder", "the target has something other than a file under this name", undefined, signal);
      return true;
    }
    // Another variant's would-be copy (dry-run) is another source file: its bytes are compared.
    if (job.kind === "same-name" && !held && this.trustedSame(job, t)) {
      this.skipped(job, t);
      return false;
    }
    if (job.kind === "same-name" && (await this.finishInterrupted(job, t, targetAbs, signal))) return true;
    await this.compareAndResolve(job, t, targetAbs, signal);
    return true;
  }

  private retry<T>(fn: () => Promise<T>, where: string): Promise<T> {
    return withRetry(fn, (e) => classifyFsError(e, { side: "target", path: where }), {
      ...this.s.retry,
      ...(this.s.signal ? { signal: this.s.signal } : {}),
    });
  }

  /**
   * Copy to a free name (noClobber: if the name got taken meanwhile, compare instead), or replace a
   * loser (`replacing`: the target file the replacement was decided on; one that changed since is kept).
   */
  private async copyNew(job: FileJob, signal: AbortSignal, noClobber = true, replacing?: FileStat): Promise<void> {
    if (!this.s.dryRun) {
      try {
        await this.writeToTarget(job, signal, noClobber, replacing);
      } catch (error) {
        if (!(error instanceof TargetAppeared)) throw error;
        await this.resolveAppeared(job, signal);
        return;
      }
      this.summary.filesCopied++;
      this.summary.bytesCopied += job.entry.size;
      this.held(job);
    } else this.countNewDry(job);
  }

  /** Dry-run: what copyNew would have written, recorded for the next source and counted. */
  private countNewDry(job: FileJob): void {
    this.s.reservations?.recordFile(job.targetRelPath, {
      size: job.entry.size,
      mtimeMs: job.entry.mtimeMs,
      node: this.s.node,
      sourceRoot: this.s.source,
      sourceRelPath: job.entry.relPath,
    });
    this.summary.filesCopied++;
    this.summary.bytesCopied += job.entry.size;
    this.held(job);
  }

  /** Another writer took the name while we copied: treat it as what it now is. */
  private async resolveAppeared(job: FileJob, signal: AbortSignal): Promise<void> {
    const targetAbs = abs(this.s.target, job.targetRelPath);
    const t = await this.s.ops.stat(targetAbs).catch(() => undefined);
    if (!t) await this.copyNew(job, signal);
    else if (!t.isFile)
      await this.loseIncoming(job, "file-vs-folder", "a folder appeared at the target under this name during the copy", undefined, signal);
    else if (this.trustedSame(job, t)) this.skipped(job, t);
    else await this.compareAndResolve(job, t, targetAbs, signal);
  }

  private async writeToTarget(job: FileJob, signal: AbortSignal, noClobber: boolean, replacing?: FileStat): Promise<void> {
    const to = joinUnder(this.s.target, job.targetRelPath);
    await this.retry(() => job.ensureFolder(), path.dirname(to));
    const from = abs(this.s.source, job.entry.relPath);
    const src = this.originOf(job);
    const { writer } = this;
    // A free name is created in place under a durable intent; a taken one (replacing an earlier copy
    // or a loser already in quarantine) through a temp name, so its old bytes stay until the new are durable.
    const copy =
      noClobber && writer
        ? () => {
            const open = this.openIntent(job, src);
            return copyToFreeName(this.s.ops, from, to, () => writer.intend(open), signal, job.entry).catch(async (error: unknown) => {
              // Not created, or removed again: the intent must not vouch for whatever is there later.
              const withdrawn = writer.intend(withdrawal(open));
              // Someone else's file: durable before anything is decided about it (a kill now must not leave it "ours").
              if (error instanceof TargetAppeared) await withdrawn;
              else withdrawn.catch(() => undefined);
              throw error;
            });
          }
        : () => copyVerifyRename(this.s.ops, from, to, signal, noClobber, job.entry, replacing);
    const copied = await this.retry(copy, to);
    // Undefined fields are left out of the line; the order is the one the manifest's fast parser expects.
    writer?.add({
      v: 2,
      relPath: job.targetRelPath,
      size: copied.size,
      mtimeMs: copied.mtimeMs,
      sha256: copied.sha256,
      node: this.s.node,
      src,
      run: this.s.runTag,
      replaced: noClobber ? undefined : true,
    });
  }

  /**
   * The target holds a file under an open intent from this very source file (a copy killed between
   * creating it and its done record): the intent proves a copy of ours created it. Identical bytes
   * and times: its done record is written. Part of the source's bytes (or identical but untimed):
   * rewritten. False for anything else, and when there is no such intent: the ordinary collision
   * rules apply, so a file that is not provably ours is never overwritten on the intent's word.
   * A dry-run decides the same, reading only (no record, no removal): it predicts what the run does,
   * and it reported the files a killed copy left half-written as collisions the run never has.
   */
  private async finishInterrupted(job: FileJob, t: FileStat, targetAbs: string, signal: AbortSignal): Promise<boolean> {
    const intent = this.manifest.intentFor(job.targetRelPath);
    const src = this.originOf(job);
    if (!intent || src === undefined || intent.src !== src) return false;
    const { writer, s } = this;
    if (s.dryRun ? targetAbs !== abs(s.target, job.targetRelPath) : !writer) return false; // dry-run: another source's would-be copy
    const from = abs(s.source, job.entry.relPath);
    const left = await this.retry(() => compareLeftByKill(s.ops, from, targetAbs, signal), targetAbs);
    if (left.match === "identical" && sameMtime(t.mtimeMs, job.entry.mtimeMs)) {
      const { node, run } = intent;
      writer?.add({ v: 2, relPath: job.targetRelPath, size: t.size, mtimeMs: t.mtimeMs, sha256: left.sha256, node, src, run });
      this.skipped(job, t);
      return true;
    }
    // Not provably what our write left (someone may have taken the name between our intent and our
    // create, and a kill lost the withdrawal; or the source was rewritten since): the ordinary rules.
    if (left.match === "different") {
      writer?.add(withdrawal(intent)); // it proves nothing more: not asked again
      return false;
    }
    if (s.dryRun) {
      this.countNewDry(job); // would be rewritten from the source
      return true;
    }
    await this.retry(() => s.ops.unlink(targetAbs), targetAbs);
    await this.copyNew(job, signal);
    return true;
  }

  /** The target (`left`: its size and mtime now) already holds this file's bytes. */
  private skipped(job: FileJob, left: { size: number; mtimeMs: number }): void {
    this.summary.filesSkipped++;
    this.summary.bytesSkipped += job.entry.size;
    const holder = job.holder;
    if (!holder) return;
    Object.assign(holder, { size: left.size, mtimeMs: left.mtimeMs });
    holder.from.push(job.entry.relPath);
  }

  /** This job's file is now what its target name holds (copied there, or replacing what was). */
  private held(job: FileJob): void {
    if (job.holder) Object.assign(job.holder, { from: [job.entry.relPath], size: job.entry.size, mtimeMs: job.entry.mtimeMs });
  }

  /** Same name (or same name but case) with other size/mtime, or no trusted hash: compare bytes. */
  private async compareAndResolve(job: FileJob, t: FileStat, targetAbs: string, signal: AbortSignal): Promise<void> {
    const sourceAbs = abs(this.s.source, job.entry.relPath);
    const kind: CollisionKind = job.kind === "case-only" ? "case-only" : "different-bytes";
    const src = await this.retry(() => hashFile(this.s.ops, sourceAbs, "source", signal, job.entry.size), sourceAbs);
    if (t.size === job.entry.size) {
      const tgt = (await this.retry(() => hashFile(this.s.ops, targetAbs, "target", signal, t.size), targetAbs)).sha256;
      if (tgt === src.sha256) {
        const moved = !sameMtime(t.mtimeMs, job.entry.mtimeMs);
        const ownCopy = moved && this.isOwnEarlierCopy(job, t);
        // keep-newer: identical bytes are one version, and the newest of its copies decides its time
        // (kept older, a variant between them in time replaced it, and the re-run undid that).
        const newer = moved && this.s.policy === "keep-newer" && job.entry.mtimeMs > t.mtimeMs;
        let left: { size: number; mtimeMs: number } = t;
        if ((ownCopy && (this.writer || this.s.dryRun)) || newer) {
          if (this.s.dryRun || (await this.retime(job, targetAbs, tgt, ownCopy))) left = job.entry;
        }
        // Vouched for as this source file's bytes (no re-hash next time), but not written by us: no
        // `src` (never replaced as ours), no run (a rollback leaves it).
        if (left === t && kind !== "case-only") {
          const same = this.originOf(job);
          this.writer?.add({ v: 2, relPath: job.targetRelPath, size: t.size, mtimeMs: t.mtimeMs, sha256: tgt, node: this.s.node, same });
        }
        if (kind === "case-only") {
          const time = left === t ? "" : "; keep-newer: it takes the incoming copy's newer time";
          this.report(
            job,
            kind,
            "target",
            undefined,
            `identical bytes under a name that differs only in case; the target's name is kept${time}`,
          );
        }
        this.skipped(job, left);
        return;
      }
    }
    if (this.isOwnEarlierCopy(job, t)) {
      // The target is a copy octoha wrote from this very source file (a preseed, an interrupted run),
      // and the file has grown since: the incoming bytes are its newer state, not a rival. Replace it
      // (no-clobber off: the name is taken by the very file being replaced), unless it changed since.
      await this.copyNew(job, signal, false, t);
      this.summary.filesUpdated = (this.summary.filesUpdated ?? 0) + 1;
      return;
    }
    const winner = this.winner(job, t, kind);
    if (winner.side === "target") await this.loseIncoming(job, kind, winner.reason, src.sha256, signal);
    else await this.replaceTarget(job, kind, winner.reason, t, targetAbs, signal);
  }

  /**
   * Our own earlier copy of this very source file, its bytes still equal, and the source's time moved
   * (touched, or its bytes rewritten unchanged): the target takes the source's times, as the copy
   * set them, so the next run skips it on size and mtime instead of hashing both sides every run.
   * Only times are written (through the open file), and only to a file the manifest proves octoha
   * wrote. The record carries no run: a rollback of this run leaves the file (an earlier run copied it).
   * True when the target took the source's times.
   *
   * keep-newer also gives a target that is not our copy the times of a newer source file with its
   * very bytes (`written` false): its record then says `same`, as for any target found equal.
   */
  private async retime(job: FileJob, targetAbs: string, sha256: string, written: boolean): Promise<boolean> {
    try {
      await this.retry(async () => {
        const file = await this.s.ops.open(targetAbs, "r+");
        try {
          await file.utimes(job.entry.atimeMs, job.entry.mtimeMs);
        } finally {
          await file.close();
        }
      }, targetAbs);
    } catch (error) {
      if (error instanceof CopyAborted || this.s.signal?.aborted) throw error;
      // Times are a saving, not the copy: a target that refuses them (read-only) stays as it is, hashed again next run.
      return false;
    }
    const origin = this.originOf(job);
    const { size, mtimeMs } = job.entry;
    const { node } = this.s;
    if (written) this.writer?.add({ v: 2, relPath: job.targetRelPath, size, mtimeMs, sha256, node, src: origin });
    else this.writer?.add({ v: 2, relPath: job.targetRelPath, size, mtimeMs, sha256, node, same: origin });
    return true;
  }

  /**
   * The manifest proves a copy wrote the target as it is now (same size and mtime as recorded) from
   * this very source file (same source folder identity and path). Nothing else may be replaced.
   */
  private isOwnEarlierCopy(job: FileJob, t: FileStat): boolean {
    const origin = this.originOf(job);
    return job.kind === "same-name" && origin !== undefined && this.manifest.writtenFrom(job.targetRelPath, t.size, t.mtimeMs, origin);
  }

  /**
   * The intent a copy to the free name writes before it creates it (the order the manifest's fast
   * parser expects); `src`: the job's origin, when the caller has it already (a SHA-256 each).
   */
  private openIntent(job: FileJob, src = this.originOf(job)): ManifestRecord {
    const { targetRelPath: relPath, entry } = job;
    return {
      v: 2,
      relPath,
      size: entry.size,
      mtimeMs: entry.mtimeMs,
      node: this.s.node,
      src,
      run: this.s.runTag,
      intent: "open",
    };
  }

  /** The origin recorded for a file written from this job's source file (undefined: cannot be proven later). */
  private originOf(job: FileJob): string | undefined {
    return this.s.sourceId === undefined ? undefined : originOf(this.s.sourceId, job.entry.relPath);
  }

  private winner(job: FileJob, t: FileStat, kind: CollisionKind): { side: "source" | "target"; reason: string } {
    const owner = this.s.taskLogOwner?.(job.targetRelPath);
    if (owner !== undefined) {
      return owner === this.s.node
        ? { side: "source", reason: `the database says node ${owner} ran this task, and this copy is from ${owner}` }
        : { side: "target", reason: `the database says node ${owner} ran this task, not ${this.s.node}` };
    }
    const what = kind === "case-only" ? "a name differing only in case" : "the same name";
    if (this.s.policy === "fail") {
      const [source, target] = [abs(this.s.source, job.entry.relPath), abs(this.s.target, job.targetRelPath)];
      throw new OctohaError(
        `Collision on '${job.targetRelPath}': ${what} with different bytes ('${source}' from ${this.s.node}, '${target}' at the target)`,
        {
          code: "COPY_COLLISION",
          path: target,
          node: this.s.node,
          hint: "The collision policy is 'fail'. Compare the two files, remove or rename one, or choose keep-target / keep-newer, then re-run: files copied before it stay copied and are not copied again.",
        },
      );
    }
    if (this.s.policy === "keep-newer" && job.entry.mtimeMs > t.mtimeMs)
      return { side: "source", reason: `${what} with different bytes; keep-newer: the incoming copy is newer` };
    return { side: "target", reason: `${what} with different bytes; ${this.s.policy}: the target's copy stays` };
  }

  /** The incoming copy loses: it goes to <quarantine>/<node>/<relPath>. */
  private async loseIncoming(
    job: FileJob,
    kind: CollisionKind,
    reason: string,
    sha256: string | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const from = abs(this.s.source, job.entry.relPath);
    const at = await this.quarantineLoser(job, from, { node: this.s.node, relPath: job.entry.relPath }, job.entry.size, sha256, signal);
    this.report(job, kind, "target", at, reason);
  }

  /**
   * Quarantine the losing copy `from` (`size` bytes, `sha256` when known) as `as` (dry-run: where
   * it would go), and count it. Among case variants taking turns on one name, bytes a version
   * already quarantined this run holds are that file: one copy per version, whichever variant
   * brought it, and the same one on every run (the turns keep their order).
   */
  private async quarantineLoser(
    job: FileJob,
    from: string,
    as: { node: string; relPath: string },
    size: number,
    sha256: string | undefined,
    signal: AbortSignal,
  ): Promise<string> {
    const { node, relPath } = as;
    const earlier = sha256 === undefined ? undefined : job.holder?.quarantined?.get(sha256);
    const at =
      earlier ??
      (this.s.dryRun
        ? await this.wouldQuarantine(from, node, relPath, size, sha256, signal)
        : await this.retry(() => quarantineFile(this.s.ops, from, this.quarantine, node, relPath, sha256, signal), from));
    if (sha256 !== undefined && job.holder) (job.holder.quarantined ??= new Map()).set(sha256, at);
    this.summary.filesQuarantined = (this.summary.filesQuarantined ?? 0) + 1;
    return at;
  }

  /**
   * Dry-run: where the losing copy `from` (`size` bytes) goes, as the run's quarantineFile picks it.
   * An earlier run that already quarantined these bytes (a repair run again) is named, and the copy
   * is not counted as quarantine work still to do.
   */
  private async wouldQuarantine(
    from: string,
    node: string,
    relPath: string,
    size: number,
    sha256: string | undefined,
    signal: AbortSignal,
  ): Promise<string> {
    const { at, already } = await wouldQuarantineAt(this.s.ops, from, this.s.quarantineRoot, node, relPath, size, sha256, signal);
    if (!already) this.summary.quarantinesPending = (this.summary.quarantinesPending ?? 0) + 1;
    return at;
  }

  /**
   * The incoming copy wins: quarantine the target's copy first, then replace it atomically.
   * `targetAbs`: the file holding the target's bytes (dry-run: the source file the run would have put there).
   */
  private async replaceTarget(
    job: FileJob,
    kind: CollisionKind,
    reason: string,
    t: FileStat,
    targetAbs: string,
    signal: AbortSignal,
  ): Promise<void> {
    // Hashed first among case variants taking turns: its bytes may be a version already quarantined this run.
    const sha256 = job.holder
      ? (await this.retry(() => hashFile(this.s.ops, targetAbs, "target", signal, t.size), targetAbs)).sha256
      : undefined;
    const at = await this.quarantineLoser(job, targetAbs, this.replacedAs(job, t), t.size, sha256, signal);
    // Written to since it was compared (a live writer appending): kept, and this file fails (COPY_TARGET_CHANGING).
    await this.copyNew(job, signal, false, t);
    this.report(job, kind, "source", at, reason);
  }

  /**
   * Whose copy the target being replaced is, as its quarantine names it: this node's own source
   * file when this run left it there (a case variant copied or kept earlier in the run: the first
   * of those holding its bytes, which are one version), or when the manifest proves an earlier copy
   * wrote it from (or found it equal to) the source file of the target's own name; otherwise the
   * target's (we cannot know who wrote it). It goes where it would have gone had it lost as the
   * incoming copy, so a re-run, in which it does lose, finds it already there.
   */
  private replacedAs(job: FileJob, t: FileStat): { node: string; relPath: string } {
    const { holder } = job;
    if (holder && holder.from.length > 0 && holder.size === t.size && sameMtime(holder.mtimeMs, t.mtimeMs))
      return { node: this.s.node, relPath: holder.from[0]! };
    const name = job.targetRelPath.slice(job.targetRelPath.lastIndexOf("/") + 1);
    const own = job.entry.parentRel === "" ? name : `${job.entry.parentRel}/${name}`;
    const { sourceId } = this.s;
    if (own !== job.entry.relPath && job.virtualAt === undefined && sourceId !== undefined)
      if (this.manifest.vouchesFor(job.targetRelPath, t.size, t.mtimeMs, originOf(sourceId, own)))
        return { node: this.s.node, relPath: own };
    return { node: EXISTING_TARGET_NODE, relPath: job.targetRelPath };
  }

  private report(job: FileJob, kind: CollisionKind, winner: "source" | "target", quarantinedAt: string | undefined, reason: string): void {
    const c: Collision = { kind, relPath: job.entry.relPath, targetRelPath: job.targetRelPath, sourceNode: this.s.node, winner, reason };
    if (quarantinedAt) c.quarantinedAt = quarantinedAt;
    if (job.virtualNode !== undefined) c.targetNode = job.virtualNode;
    const counts = (this.summary.collisionsByKind ??= {});
    counts[kind] = (counts[kind] ?? 0) + 1;
    this.s.onCollision?.(c);
    // A folder of a million logs can collide a million times: the summary lists the first ones only.
    if (this.summary.collisions.length < COLLISION_LIMIT) this.summary.collisions.push(c);
    else this.summary.collisionsOmitted = (this.summary.collisionsOmitted ?? 0) + 1;
  }
}
