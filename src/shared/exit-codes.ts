/** Process exit codes (design.md, "Command line"). */
export const ExitCode = {
  Done: 0,
  Failed: 1,
  BadInput: 2,
  /** Stopped but resumable: interrupt or approval gate. */
  Resumable: 3,
  RolledBack: 4,
  /** `dry-run --detailed-exitcode`: something would change. */
  WouldChange: 10,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
