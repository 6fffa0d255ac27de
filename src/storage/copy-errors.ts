/**
 * Turns node:fs errors into OctohaErrors marked by behaviour, with the messages Octopus's own
 * troubleshooting docs use ("Could not find a part of the path", "Access to the path … is denied"),
 * so an operator who searches the text lands on the right page.
 */
import os from "node:os";
import type { Clock } from "../shared/clock.js";
import { OctohaError, TRANSIENT_ERRNO, errnoOf } from "../shared/errors.js";
import { retry, RETRY_BUDGETS } from "../shared/retry.js";
import { fileInThePath } from "../shared/file-in-path.js";
import { ExitCode } from "../shared/exit-codes.js";

/** Which side of the copy a failing call touched: decides whether we stop or carry on. */
export type FailingSide = "source-root" | "source" | "target";

function account(): string {
  try {
    return os.userInfo().username;
  } catch {
    return "the account running octoha";
  }
}

export interface ErrorContext {
  side: FailingSide;
  path: string;
  node?: string;
  /** A path that is missing (or a file where a folder must be) is the caller's bad input: exit 2, nothing was changed. */
  missingIsBadInput?: boolean;
}

/** The longest path the system takes (Linux PATH_MAX; macOS; Windows long paths, which Node uses). */
const PATH_MAX = process.platform === "win32" ? 32_767 : process.platform === "darwin" ? 1024 : 4096;

/**
 * For an ENAMETOOLONG: undefined when `at` itself is past PATH_MAX (the path is too long), else the
 * longest name in it (a path that fits can only have a name the file system refuses).
 */
function overlongName(at: string): string | undefined {
  const win = process.platform === "win32";
  if ((win ? at.length : Buffer.byteLength(at)) >= PATH_MAX) return undefined;
  let longest = "";
  for (const name of at.split(win ? /[\\/]/ : "/")) if (Buffer.byteLength(name) > Buffer.byteLength(longest)) longest = name;
  return longest;
}

/** Classify a file-system error. Already-classified errors pass through unchanged. */
export function classifyFsError(error: unknown, where: ErrorContext): OctohaError {
  if (error instanceof OctohaError) return error;
  const code = errnoOf(error) ?? "UNKNOWN";
  const base = { path: where.path, node: where.node, cause: error };
  const notFound = { ...base, code: "COPY_PATH_NOT_FOUND", ...(where.missingIsBadInput ? { exitCode: ExitCode.BadInput } : {}) };
  const who = account();
  if (TRANSIENT_ERRNO.has(code)) {
    return new OctohaError(`Transient ${code} on '${where.path}'`, {
      ...base,
      code: "COPY_TRANSIENT",
      behaviour: "retryable",
      hint: "The storage did not answer (busy file, dropped connection or I/O error) even after retries. Check the share and network, then re-run: files already verified are not copied again.",
    });
  }
  if ((code === "EACCES" || code === "EPERM") && where.side === "source") {
    return new OctohaError(`Access to the path '${where.path}' is denied (reading the source as ${who})`, {
      ...base,
      code: "COPY_SOURCE_UNREADABLE",
      behaviour: "continue",
      hint: `Grant ${who} read access to it (a folder: the right to list it and to read what it holds), or run octoha as an account that has it, then re-run: the rest was copied and will not be copied again.`,
    });
  }
  if ((code === "EACCES" || code === "EPERM") && where.side === "source-root") {
    return new OctohaError(`Access to the path '${where.path}' is denied (listing the source folder as ${who})`, {
      ...base,
      code: "COPY_ACCESS_DENIED",
      hint: `octoha only reads the source: grant ${who} read access to this folder and everything in it (the share's permissions and the NTFS/file-system ACLs), or run octoha as an account that has it, then re-run.`,
    });
  }
  if (code === "ENOENT" && where.side === "source") {
    return new OctohaError(`The source file '${where.path}' disappeared while copying`, {
      ...base,
      code: "COPY_SOURCE_VANISHED",
      behaviour: "continue",
      hint: "Octopus (retention) or another process removed it after the inventory. Nothing to do unless the file matters; re-run to confirm.",
    });
  }
  if (code === "EROFS" && where.side === "target") {
    return new OctohaError(`Access to the path '${where.path}' is denied: it is on a read-only file system`, {
      ...base,
      code: "COPY_ACCESS_DENIED",
      hint: "The share or disk that holds it is mounted read-only (or is a read-only snapshot). Remount it read-write, or choose a target octoha may write to, then re-run.",
    });
  }
  if ((code === "EACCES" || code === "EPERM") && where.side === "target") {
    return new OctohaError(`Access to the path '${where.path}' is denied: it is read-only or not writable for ${who}`, {
      ...base,
      code: "COPY_ACCESS_DENIED",
      hint: `Grant ${who} Full Control on the share AND on the NTFS/file-system ACLs of the folder (both are checked), and clear a read-only or immutable mark on it (Windows: attrib -r; Linux: chattr -i), then re-run.`,
    });
  }
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return new OctohaError(`Access to the path '${where.path}' is denied`, {
      ...base,
      code: "COPY_ACCESS_DENIED",
      hint: `octoha runs as ${who}. Grant that account Full Control on the share AND on the NTFS/file-system ACLs of the folder (both are checked), then re-run.`,
    });
  }
  const file = code === "ENOTDIR" ? fileInThePath(where.path) : undefined;
  if (file !== undefined) {
    return new OctohaError(`Could not find a part of the path '${where.path}': '${file}' is a file, not a folder`, {
      ...notFound,
      hint:
        where.side === "target"
          ? `octoha needs a folder there (the target; its state folder, .octoha or the one --state-dir names, for the manifest and lock; .octoha/conflicts for quarantined copies). The file is not octoha's: move or rename it, or choose another target (or --state-dir), then re-run.`
          : "The source must be a folder: a node's Octopus home, or one of its folders (TaskLogs, Artifacts, Packages). Pass the folder that holds the files, not a file.",
    });
  }
  if (code === "ENOENT" || code === "ENOTDIR") {
    return new OctohaError(`Could not find a part of the path '${where.path}'`, {
      ...notFound,
      hint: `A drive letter mapped in another session is invisible to ${who}, and the folder must exist. Map the drive under the account that runs octoha (and the Octopus service account), or use a UNC path (\\\\server\\share\\…), and check the folder exists.`,
    });
  }
  if (code === "EISDIR" && where.side === "target") {
    return new OctohaError(`'${where.path}' is a folder where octoha needs a file`, {
      ...base,
      code: "COPY_PATH_IS_FOLDER",
      hint: "octoha keeps its manifest, its snapshot and its lock as files in the target's .octoha folder. The folder is not octoha's: move or rename it, then re-run.",
    });
  }
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new OctohaError(`No space left on the target while writing '${where.path}'`, {
      ...base,
      code: "COPY_NO_SPACE",
      hint: "Free space on the shared storage (or raise the quota for the account), then re-run: verified files are kept and not copied again, and whatever was being written when the space ran out is written again (the manifest vouches only for whole, verified files).",
    });
  }
  if (code === "EILSEQ" && where.side === "source") {
    return new OctohaError(`The name of '${where.path}' is not valid UTF-8: octoha cannot copy it (a folder: nor anything in it)`, {
      ...base,
      code: "COPY_NAME_NOT_UTF8",
      behaviour: "continue",
      hint: "Linux lets a file name hold any bytes (U+FFFD above stands for those that are not UTF-8); a Windows share holds only Unicode names, and octoha cannot open this one by name (where a name beside it reads the same, its U+FFFD a real character, that one is copied and this one is not). Rename it on the node (for example with `convmv -f latin1 -t utf-8`), then re-run: files already copied are not copied again.",
    });
  }
  if (code === "ENAMETOOLONG") {
    const name = overlongName(where.path);
    if (name !== undefined) {
      return new OctohaError(`The name '${name}' in '${where.path}' is too long for the file system (${Buffer.byteLength(name)} bytes)`, {
        ...base,
        code: "COPY_NAME_TOO_LONG",
        // One name: the other files can still be copied (the source root's own name stops the copy).
        behaviour: where.side === "source-root" ? "fatal" : "continue",
        hint: "A file system holds at most 255 bytes (UTF-8) or 255 UTF-16 characters in one name, some fewer (eCryptfs: 143 bytes); a shorter target root does not help. Rename the file or folder on the node, then re-run: the other files were copied and are not copied again.",
      });
    }
    return new OctohaError(`The path '${where.path}' is too long for the file system`, {
      ...base,
      code: "COPY_NAME_TOO_LONG",
      hint: "Use a shorter target root (e.g. a share mapped near the drive root), or enable long-path support on the target; see the path-too-long report.",
    });
  }
  return new OctohaError(`${code} on '${where.path}': ${error instanceof Error ? error.message : String(error)}`, {
    ...base,
    code: `COPY_${code}`,
  });
}

/** Thrown inside a copy when the run is aborted: the temp file is removed, nothing is reported. */
export class CopyAborted extends Error {
  constructor() {
    super("copy aborted");
  }
}

/** Thrown by a no-clobber copy when something appeared under the final name while it was copied. */
export class TargetAppeared extends Error {
  constructor(readonly path: string) {
    super(`'${path}' appeared at the target during the copy`);
  }
}

export interface RetryOptions {
  /** Attempts in all (default RETRY_BUDGETS.fileOp: 5). */
  attempts?: number;
  /** First backoff; doubles each time (default 50 ms). */
  baseDelayMs?: number;
  signal?: AbortSignal;
  clock?: Clock;
}

/**
 * Run fn; when it fails with a retryable error (after classify), wait with doubling backoff and
 * try again, up to `attempts` times in all (and within the step's retry window). The decision
 * comes from the behaviour mark only. An abort during a backoff ends it with the last error.
 */
export async function withRetry<T>(fn: () => Promise<T>, classify: (e: unknown) => OctohaError, options: RetryOptions = {}): Promise<T> {
  const budget = RETRY_BUDGETS.fileOp;
  let last: OctohaError | undefined;
  const attempt = async () => {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof CopyAborted || error instanceof TargetAppeared) throw error;
      throw (last = classify(error));
    }
  };
  try {
    return await retry(attempt, {
      attempts: options.attempts ?? budget.attempts,
      backoff: { ...budget.backoff, initialMs: options.baseDelayMs ?? budget.backoff.initialMs },
      isRetryable: (e) => e instanceof OctohaError && e.behaviour === "retryable",
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  } catch (error) {
    if (last && options.signal?.aborted && error === options.signal.reason) throw last;
    throw error;
  }
}
