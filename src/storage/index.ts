/** The copy engine's public surface (design.md, "Copy engine"). */
export { ADAPTIVE_CONCURRENCY_CAP, copyTree, DEFAULT_CONCURRENCY, LARGE_FILE_BYTES, type CopyEngineExtras } from "./copy-tree.js";
export { preflightTarget, defaultMargin, type PreflightOptions, type PreflightResult } from "./preflight.js";
export { measureSample, estimateSeconds, type SampleOptions, type SampleResult } from "./sample.js";
export { nameProblems, windowsNameProblem, WINDOWS_MAX_PATH } from "./windows-names.js";
export { nodeFileOps, type FileOps, type OpenFile, type FileStat, type DirEntry, type StatFs } from "./file-ops.js";
export { TEMP_SUFFIX, STATE_FOLDER } from "./walk.js";
export { sourceTotals } from "./totals.js";
export { TargetReservations, type Reservation } from "./reservations.js";
export type * from "./types.js";
export { undoRunCopies, type UndoCopiesOptions, type UndoCopiesResult } from "./run-copies.js";
export { lockTarget, unlockTarget, targetLockFile, TargetLockedError, type LockOwner } from "./target-lock.js";
