/**
 * The plan file's bytes and JSON structure, checked before JSON.parse sees them: the encoding
 * (UTF-8, not UTF-16 or a legacy code page: a wrong byte would become U+FFFD inside a folder name),
 * NUL characters, duplicate keys (JSON.parse keeps the last one silently), nesting depth (deep
 * nesting overflows the stack of every recursive walk after the parse) and syntax, each with the
 * line and column where it is, and the JSON path where there is one.
 *
 * A small hand-written scanner: JSON.parse reports neither duplicates nor where a problem is on
 * every error, and the JSON libraries that give positions (jsonc-parser, momoa) parse
 * recursively, so they overflow on the same deep input and still leave duplicates to the caller.
 * It is iterative, and never echoes more than one character of the file (the text may hold a secret).
 */
import { isUtf8 } from "node:buffer";

/** Plans are about five levels deep; anything near this is not a plan. */
const MAX_PLAN_DEPTH = 64;
/** Byte-level problems reported before the rest is summarised (a UTF-16 file has one per character). */
const MAX_BYTE_PROBLEMS = 5;

export interface TextProblem {
  line: number;
  column: number;
  /** JSON path of the key or value it is in, when the scanner got that far. */
  path?: string;
  message: string;
  fix?: string;
}

export interface PlanText {
  /** The decoded text (a UTF-8 byte-order mark removed). */
  text: string;
  problems: TextProblem[];
  /** False when the structure itself is broken (syntax, depth, UTF-16, raw NUL): JSON.parse must not run. */
  parseable: boolean;
  /** True when the text breaks the JSON grammar (a comma, a quote …), as opposed to what JSON allows but a plan may not. */
  syntaxError: boolean;
}

type Segment = string | number;

/** A JSON path as messages print it, kept short: long keys cut, deep paths cut in the middle. */
function formatSegments(segments: readonly Segment[]): string {
  const part = (s: Segment, first: boolean) =>
    typeof s === "number" ? `[${s}]` : `${first ? "" : "."}${s.length > 60 ? `${s.slice(0, 60)}…` : s}`;
  const join = (list: readonly Segment[], first: boolean) => list.map((s, i) => part(s, first && i === 0)).join("");
  if (segments.length > 12) return `${join(segments.slice(0, 5), true)}…${join(segments.slice(-5), false)}`;
  return join(segments, true) || "(plan)";
}

/** Line and column (1-based, UTF-16 units as editors count them) of offsets in a text. */
function locator(text: string): (offset: number) => { line: number; column: number } {
  let starts: number[] | undefined;
  return (offset) => {
    if (!starts) {
      starts = [0];
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
    }
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  };
}

const describeChar = (c: string | undefined): string =>
  c === undefined
    ? "the end of the file"
    : /[\x21-\x7e]/.test(c)
      ? `'${c}'`
      : `character U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`;

/** Length in bytes of the valid UTF-8 sequence starting at i, or 0 when it is invalid (RFC 3629). */
function utf8SequenceLength(b: Uint8Array, i: number): number {
  const x = b[i]!;
  if (x < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => b[i + k] !== undefined && b[i + k]! >= lo && b[i + k]! <= hi;
  if (x >= 0xc2 && x <= 0xdf) return cont(1) ? 2 : 0;
  if (x >= 0xe0 && x <= 0xef) {
    const [lo, hi] = x === 0xe0 ? [0xa0, 0xbf] : x === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (x >= 0xf0 && x <= 0xf4) {
    const [lo, hi] = x === 0xf0 ? [0x90, 0xbf] : x === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Character offsets (in the decoded text) of the first invalid UTF-8 bytes, with the byte found. */
function invalidUtf8(bytes: Uint8Array, start: number): { charOffset: number; byte: number }[] {
  const found: { charOffset: number; byte: number }[] = [];
  const decoder = new TextDecoder();
  for (let i = start; i < bytes.length && found.length < MAX_BYTE_PROBLEMS;) {
    const n = utf8SequenceLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    found.push({ charOffset: decoder.decode(bytes.subarray(start, i)).length, byte: bytes[i]! });
    i += 1;
  }
  return found;
}

const UTF16_FIX = "Save the file as UTF-8 (PowerShell: Set-Content -Encoding utf8; Notepad: Save as, Encoding UTF-8).";

/** Decodes and checks a plan file's bytes; see the module comment. */
export function checkPlanText(bytes: Uint8Array): PlanText {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return {
      text: "",
      parseable: false,
      syntaxError: false,
      problems: [
        { line: 1, column: 1, message: "the file is UTF-16 (as PowerShell's `>` and Out-File write it), not UTF-8", fix: UTF16_FIX },
      ],
    };
  }
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const text = new TextDecoder().decode(bytes.subarray(start));
  const bad = isUtf8(bytes.subarray(start)) ? [] : invalidUtf8(bytes, start);
  const at = locator(text);
  const scan = scanJson(
    text,
    bad.map((b) => b.charOffset),
    at,
  );
  const encoding = bad.map((b): TextProblem => {
    const path = scan.pathAt.get(b.charOffset);
    return {
      ...at(b.charOffset),
      ...(path ? { path } : {}),
      message: `byte 0x${b.byte.toString(16).toUpperCase().padStart(2, "0")} is not valid UTF-8 (it would be read as U+FFFD, "�")`,
      fix: "The file was saved in another encoding (e.g. Windows-1252 / ANSI); save it as UTF-8.",
    };
  });
  return {
    text,
    parseable: scan.parseable,
    syntaxError: scan.syntaxError,
    problems: [...encoding, ...scan.problems.map(({ offset, ...p }) => ({ ...at(offset), ...p }))],
  };
}

type Frame = { kind: "object"; keys: Map<string, number>; key: string | undefined } | { kind: "array"; index: number };

interface ScanResult {
  problems: (Omit<TextProblem, "line" | "column"> & { offset: number })[];
  parseable: boolean;
  syntaxError: boolean;
  /** For each mark offset that falls inside a string: the JSON path of that key or value. */
  pathAt: Map<number, string>;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

/**
 * An iterative JSON scanner: syntax (stops at the first error), duplicate keys, NUL characters
 * (raw or escaped) and depth; it records paths, never values.
 */
function scanJson(text: string, marks: readonly number[], at: (offset: number) => { line: number; column: number }): ScanResult {
  const problems: ScanResult["problems"] = [];
  const pathAt = new Map<number, string>();
  const stack: Frame[] = [];
  let nulReported = 0;
  let rawNul = false;
  let i = 0;
  const path = (extra?: Segment): string =>
    formatSegments([
      ...stack.flatMap((f): Segment[] => (f.kind === "array" ? [f.index] : f.key === undefined ? [] : [f.key])),
      ...(extra === undefined ? [] : [extra]),
    ]);
  const skipWhitespace = () => {
    WHITESPACE.lastIndex = i;
    WHITESPACE.test(text);
    i = WHITESPACE.lastIndex;
  };
  const fail = (
    message: string,
    fix = "Check commas, quotes, brackets and backslashes (a Windows path in JSON is written C:\\\\Octopus).",
    syntaxError = true,
  ): ScanResult => {
    const isNul = text[i] === "\0";
    if (isNul) nul(i, path());
    else problems.push({ offset: i, path: path(), message, fix });
    return { problems, parseable: false, syntaxError: syntaxError && !isNul, pathAt };
  };
  const finished = (): ScanResult => ({ problems, parseable: !rawNul, syntaxError: false, pathAt });
  const nul = (offset: number, where: string) => {
    if (nulReported++ < MAX_BYTE_PROBLEMS)
      problems.push({
        offset,
        path: where,
        message: "a NUL character: no name or path can hold one",
        fix: "Remove it (a file with NUL after every letter was saved as UTF-16: save it as UTF-8).",
      });
  };
  /** Scans the string starting at i (on its opening quote); returns its raw text end, or -1 when unterminated. */
  const string = (where: () => string): { end: number; error?: string } => {
    const open = i;
    for (let j = i + 1; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (c === 0x22) {
        for (const m of marks) if (m > open && m < j && !pathAt.has(m)) pathAt.set(m, where());
        return { end: j + 1 };
      }
      if (c === 0x5c) {
        const e = text[j + 1];
        if (e === "u") {
          const hex = text.slice(j + 2, j + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) return { end: j, error: "a \\u escape needs four hex digits" };
          if (hex === "0000") nul(j, where());
          j += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) j += 1;
        else return { end: j, error: `an unknown escape \\${e ?? ""} in a string (a backslash in JSON is written \\\\)` };
      } else if (c === 0) {
        rawNul = true;
        nul(j, where());
      } else if (c < 0x20) return { end: j, error: "a line break or control character inside a string (write it as \\n, \\t …)" };
    }
    return { end: -1 };
  };
  /** After a value: move to the next element of the enclosing container. */
  const afterValue = (): "done" | "ok" | string => {
    skipWhitespace();
    const top = stack[stack.length - 1];
    if (!top) return i === text.length ? "done" : `unexpected ${describeChar(text[i])} after the end of the plan`;
    const close = top.kind === "object" ? "}" : "]";
    if (text[i] === ",") {
      i += 1;
      if (top.kind === "array") top.index += 1;
      return "ok";
    }
    if (text[i] === close) {
      i += 1;
      stack.pop();
      return afterValue();
    }
    return `expected "," or "${close}" after ${top.kind === "object" ? `the value of "${top.key ?? ""}"` : `element ${top.index}`}, found ${describeChar(text[i])}`;
  };

  for (;;) {
    skipWhitespace();
    const top = stack[stack.length - 1];
    if (top?.kind === "object") {
      // Expecting a key (or the end of an empty object).
      if (text[i] === "}" && top.keys.size === 0) {
        i += 1;
        stack.pop();
        const next = afterValue();
        if (next === "done") return finished();
        if (next !== "ok") return fail(next);
        continue;
      }
      if (text[i] !== '"') return fail(`expected a key in double quotes, found ${describeChar(text[i])}`);
      const keyStart = i;
      const s = string(() => path());
      if (s.end < 0) return fail('a key that is never closed (missing ")');
      if (s.error) return ((i = s.end), fail(s.error));
      const key = JSON.parse(text.slice(keyStart, s.end)) as string;
      const first = top.keys.get(key);
      top.key = key;
      if (first !== undefined) {
        const shown = key.length > 60 ? `${key.slice(0, 60)}…` : key;
        const seen = at(first);
        problems.push({
          offset: keyStart,
          path: path(),
          message: `duplicate key "${shown}" (first at line ${seen.line}, column ${seen.column}); JSON keeps only the last one, so the first would be silently ignored`,
          fix: "Keep one of the two and delete the other.",
        });
      } else top.keys.set(key, keyStart);
      i = s.end;
      skipWhitespace();
      if (text[i] !== ":")
        return fail(`expected ":" after the key "${key.length > 60 ? `${key.slice(0, 60)}…` : key}", found ${describeChar(text[i])}`);
      i += 1;
      skipWhitespace();
    } else if (top?.kind === "array" && text[i] === "]" && top.index === 0) {
      i += 1;
      stack.pop();
      const next = afterValue();
      if (next === "done") return finished();
      if (next !== "ok") return fail(next);
      continue;
    }
    // A value.
    const c = text[i];
    if (c === "{" || c === "[") {
      if (stack.length >= MAX_PLAN_DEPTH)
        return fail(
          `nested deeper than ${MAX_PLAN_DEPTH} levels; a plan is about five levels deep`,
          "This is not a plan file: check it is the file you meant.",
          false,
        );
      stack.push(c === "{" ? { kind: "object", keys: new Map(), key: undefined } : { kind: "array", index: 0 });
      i += 1;
      continue;
    }
    if (c === '"') {
      const s = string(() => path());
      if (s.end < 0) return fail('a string that is never closed (missing ")');
      if (s.error) return ((i = s.end), fail(s.error));
      i = s.end;
    } else if (c === "t" || c === "f" || c === "n") {
      const word = c === "t" ? "true" : c === "f" ? "false" : "null";
      if (!text.startsWith(word, i)) return fail(`expected a value, found ${describeChar(c)} (strings need double quotes)`);
      i += word.length;
    } else {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text))
        return fail(
          `expected a value, found ${describeChar(c)}${c !== undefined && /[A-Za-z\\/]/.test(c) ? " (strings need double quotes)" : ""}`,
        );
      i = NUMBER.lastIndex;
    }
    const next = afterValue();
    if (next === "done") return finished();
    if (next !== "ok") return fail(next);
  }
}
