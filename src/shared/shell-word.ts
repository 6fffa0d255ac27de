/**
 * One argument of a command octoha shows the operator to paste: as it is when it holds only characters no
 * shell reads specially, else in double quotes with `"`, `\`, `$` and a backtick escaped (POSIX shells;
 * PowerShell and cmd.exe read the same double-quoted word for a path with spaces).
 */
export function shellWord(arg: string): string {
  return /^[\w@%+=:,./\\-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\$`])/g, "\\$1")}"`;
}
