/** Small human formats shared by progress lines and summaries. */

// Below report, so the copy engine's messages (storage) say sizes the same way.
export { formatBytes } from "../shared/format-bytes.js";

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}

/** C0 and C1 controls and the Unicode line and paragraph separators. */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * A control character as \u000a: visible, ASCII for any console, and not mistaken for a Windows
 * path (\n would be: C:\new). Markdown shows it literally (a backslash before a letter is not an escape).
 */
function visibleControl(c: string): string {
  return `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}`;
}

/**
 * A name octoha did not choose, on one line of plain text: a control character (a newline in a file
 * name would split the line and read as two entries) is shown as \u000a, as the Markdown reports do.
 */
export function oneLine(name: string): string {
  return name.replace(CONTROLS, visibleControl);
}

/** Controls a terminal would act on (ESC starts a sequence that can clear the screen or retitle it), but not a line break or a tab. */
const TERMINAL_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text for a terminal: a file name's escape sequence or bell is shown (\u001b), never obeyed. Line
 * breaks and tabs stay (octoha's own messages have them; a name with a line break is shown by oneLine).
 */
export function forTerminal(text: string): string {
  return text.replace(TERMINAL_CONTROLS, visibleControl);
}
