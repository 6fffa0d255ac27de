/**
 * Rules for a name that becomes one path segment on Windows: a file or folder name on the share,
 * and a node's name, which names its quarantine folder and its manifest. Shared by plan
 * validation, the command line and the copy engine.
 */

const INVALID_CHARS = /[:*?"<>|\\\u0000-\u001f]/;
/**
 * CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an extension ("nul.txt" is still NUL).
 * Windows reads the superscript digits ¹ ² ³ (U+00B9, U+00B2, U+00B3) as digits there too
 * (Microsoft's "Naming Files, Paths, and Namespaces"), and opens CONIN$ and CONOUT$ as the
 * console (CreateFile). COM0 and LPT0 are not in Microsoft's list (Git for Windows found Windows 10 creates com0.c).
 * Spaces before the extension are no escape: RtlIsDosDeviceName_U, which Win32 asks before it
 * opens a name, ends the name at its first dot and then drops the spaces before it, so
 * "nul .txt" is NUL (a name that ends in spaces is refused on its own, below). CLOCK$, an
 * MS-DOS device, is in neither Microsoft's list nor RtlIsDosDeviceName_U's: not flagged.
 */
const RESERVED = /^(con|prn|aux|nul|conin\$|conout\$|com[1-9\u00b9\u00b2\u00b3]|lpt[1-9\u00b9\u00b2\u00b3])( *)(\..*)?$/i;
/** Longest label accepted as a folder name (a segment is at most 255 characters on NTFS and ext4). */
const MAX_LABEL_LENGTH = 100;

/** The problem with one name segment, or undefined when Windows can hold it. */
export function windowsNameProblem(segment: string): string | undefined {
  const bad = INVALID_CHARS.exec(segment);
  if (bad)
    return `contains '${bad[0] < " " ? `\\x${bad[0].charCodeAt(0).toString(16).padStart(2, "0")}` : bad[0]}', which Windows does not allow in a name`;
  if (/[. ]$/.test(segment)) return "ends with a dot or a space, which Windows strips (the file could not be opened by that name)";
  // Said without the segment (callers put the whole name first): "'nul.txt' is the reserved device name NUL …".
  const device = RESERVED.exec(segment);
  if (device)
    return `is the reserved device name ${device[1]!.toUpperCase()} on Windows (with or without an extension${device[2] ? ", and with spaces before it" : ""})`;
  return undefined;
}

/**
 * Why `name` cannot be used as a folder name octoha creates (e.g. conflicts/<node>/), or undefined.
 * It must stay one segment under its parent: no separator, not "." or "..", and valid on Windows.
 */
export function labelProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name === "." || name === "..") return `is '${name}', which names a folder above or at its parent, not a folder of its own`;
  if (name.includes("/")) return "contains '/', a path separator";
  if (name.length > MAX_LABEL_LENGTH) return `is ${name.length} characters long (at most ${MAX_LABEL_LENGTH})`;
  if (name.trim() !== name) return "starts or ends with a space";
  return windowsNameProblem(name);
}

/** The rule in one line, for a fix hint. */
export const LABEL_RULE =
  `one folder name: at most ${MAX_LABEL_LENGTH} characters, not '.' or '..', none of / \\ : * ? " < > | or control characters, ` +
  "no trailing dot or space, not a Windows device name (CON, NUL, COM1 …)";

/** The manifest `octoha copy` keeps in its state folder (DST/.octoha unless --state-dir). */
export const COPY_MANIFEST_FILE = "manifest-copy.jsonl";
