/**
 * Values octoha does not choose (file names, paths, node names, messages) in its Markdown reports:
 * shown literally by GitHub-flavoured Markdown and still readable as plain text in a terminal. A
 * name cannot open an HTML tag or a code span, become a link, or split a line or a table row.
 */
import type { Redactor } from "../shared/redact.js";
import { oneLine } from "./format.js";

/** Characters Markdown would read as markup; backslash-escaped (readable in a terminal, literal when rendered). */
const MARKUP = new Set(["<", ">", "&", "`"]);

function escapeMarkdown(value: string, markup: ReadonlySet<string>): string {
  const pieces: string[] = [];
  let nextChanged = false;
  // Right to left: a backslash in the name just before an escape written here would otherwise
  // swallow it ("\<" must become "\\\<"); any other backslash (C:\Octopus) stays as it is.
  const chars = [...value];
  for (let i = chars.length - 1; i >= 0; i--) {
    const c = chars[i]!;
    // "](" closes a link ("[text](url)"); brackets elsewhere stay, as in SQL a fix quotes ([octoha_reader]).
    const closesLink = c === "]" && (i === chars.length - 1 || chars[i + 1] === "(");
    const shown = oneLine(c); // a control character, shown as \u000a
    const piece: string = shown !== c ? shown : markup.has(c) || closesLink ? `\\${c}` : c === "\\" && nextChanged ? "\\\\" : c;
    nextChanged = piece !== c;
    pieces.push(piece);
  }
  return pieces.reverse().join("");
}

const CELL_MARKUP = new Set([...MARKUP, "|"]);

/** The content of a code span or block: literal there, except control characters (shown) and the backtick fence. */
const visibleControls = oneLine;
const longestBacktickRun = (value: string): number => Math.max(0, ...(value.match(/`+/g) ?? []).map((r) => r.length));

export interface MarkdownValues {
  /** In running text or a list item. */
  text(value: unknown): string;
  /** In a table cell (a pipe too). */
  cell(value: unknown): string;
  /** As an inline code span. */
  code(value: unknown): string;
  /** As a fenced code block: its lines. */
  block(value: unknown): string[];
}

/** Each value is redacted before it is escaped: a secret with a `<` or `|` in it is still recognised. */
export function markdownValues(redactor: Redactor): MarkdownValues {
  const plain = (value: unknown): string => redactor.redact(String(value ?? ""));
  return {
    text: (value) => escapeMarkdown(plain(value), MARKUP),
    cell: (value) => escapeMarkdown(plain(value), CELL_MARKUP),
    code: (value) => {
      const content = visibleControls(plain(value));
      const fence = "`".repeat(longestBacktickRun(content) + 1);
      const pad = content.startsWith("`") || content.endsWith("`") ? " " : "";
      return `${fence}${pad}${content}${pad}${fence}`;
    },
    block: (value) => {
      const content = visibleControls(plain(value));
      const fence = "`".repeat(Math.max(3, longestBacktickRun(content) + 1));
      return [fence, content, fence];
    },
  };
}
