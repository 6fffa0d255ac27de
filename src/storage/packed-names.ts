/**
 * A folder's names sorted and kept as front-coded UTF-8 (PackedNames), and merged in order across
 * sorted runs (MergedNames): what a sorted listing holds while its files are planned.
 */

/**
 * A folder's names in order, handed out a slice at a time, each slice starting where the last one
 * ended (a `string[]` is one).
 */
export interface NameList {
  readonly length: number;
  slice(start: number, end: number): string[];
  /** The folded hashes (foldedHash) that two or more of the names share, when they were counted. */
  readonly caseVariants?: ReadonlySet<number> | undefined;
  /** Every name's folded hash, sorted, when the listing kept them (ListOptions.onNames). */
  readonly foldedHashes?: Uint32Array | undefined;
}

/**
 * A sorted run of names, front-coded: per name, the number of leading bytes it shares with the
 * name before it, the number that follow and those bytes (UTF-8; the counts as 1- or 2-byte
 * varints). Sorted task logs share about half their bytes with their neighbour
 * ("servertasks-9076…"): a million names took 34 MB as whole names with an end offset each,
 * ~18 MB front-coded. Read in order only, a name at a time, through `current`.
 */
export class PackedNames implements NameList {
  readonly length: number;
  caseVariants: ReadonlySet<number> | undefined;
  foldedHashes: Uint32Array | undefined;
  /** Names read so far. */
  private taken = 0;
  /** Where the next name's record starts in bytes. */
  private next = 0;
  /** @internal The last name read, as UTF-8: current[0, currentLength). */
  current: Buffer = Buffer.allocUnsafe(MAX_NAME_BYTES);
  /** @internal */
  currentLength = 0;

  private constructor(
    private readonly bytes: Buffer,
    length: number,
    /** Every name is ASCII: latin1 decodes it (faster than utf8). */
    private readonly ascii: boolean,
  ) {
    this.length = length;
  }

  /** Sorts `names` in place in strcmp order of their UTF-8 bytes, then packs them. */
  static sorted(names: string[]): PackedNames {
    let astral = false;
    let size = 0;
    for (const n of names) {
      if (!astral && ASTRAL_OR_PRIVATE.test(n)) astral = true;
      size += n.length;
    }
    if (astral) names.sort(byCodePoint);
    else names.sort();
    // Room for every name whole with its two counts; what front coding saves is given back below.
    let bytes: Buffer = Buffer.allocUnsafe(size + 4 * names.length + 16);
    let previous = Buffer.allocUnsafe(MAX_NAME_BYTES);
    let name = Buffer.allocUnsafe(MAX_NAME_BYTES);
    let previousLength = 0;
    let ascii = true;
    let at = 0;
    for (const n of names) {
      const length = name.write(n, 0, "utf8");
      if (length !== n.length) ascii = false;
      if (length >= MAX_NAME_BYTES - 3) throw new Error(`a file name of ${length} bytes or more: ${n.slice(0, 40)}…`);
      let shared = 0;
      const most = Math.min(length, previousLength);
      while (shared < most && name[shared] === previous[shared]) shared++;
      if (bytes.length - at < length - shared + 4) bytes = grown(bytes, at, at + length - shared + 4);
      at = writeCount(bytes, at, shared);
      at = writeCount(bytes, at, length - shared);
      for (let i = shared; i < length; i++) bytes[at++] = name[i]!;
      [previous, name] = [name, previous];
      previousLength = length;
    }
    // A copy of the right size: a view would keep the whole first allocation alive.
    const packed = Buffer.allocUnsafeSlow(at);
    bytes.copy(packed, 0, 0, at);
    return new PackedNames(packed, names.length, ascii);
  }

  slice(start: number, end: number): string[] {
    if (start !== this.taken) throw new Error(`packed names are read in order: asked from ${start}, at ${this.taken}`);
    const out: string[] = [];
    for (const to = Math.min(end, this.length); this.taken < to;) {
      this.advance();
      out.push(this.currentName());
    }
    return out;
  }

  /** @internal Reads the next name into current; false when every name has been read. */
  advance(): boolean {
    if (this.taken >= this.length) return false;
    const bytes = this.bytes;
    let at = this.next;
    let shared = bytes[at++]!;
    if (shared >= 0x80) shared = (shared & 0x7f) | (bytes[at++]! << 7);
    let rest = bytes[at++]!;
    if (rest >= 0x80) rest = (rest & 0x7f) | (bytes[at++]! << 7);
    const current = this.current;
    for (let i = 0; i < rest; i++) current[shared + i] = bytes[at + i]!;
    this.currentLength = shared + rest;
    this.next = at + rest;
    this.taken++;
    return true;
  }

  /** @internal current as a string. */
  currentName(): string {
    return this.current.toString(this.ascii ? "latin1" : "utf8", 0, this.currentLength);
  }
}

/** Room for the longest file name in UTF-8 (255 UTF-16 units on NTFS, up to 3 bytes each). */
const MAX_NAME_BYTES = 1024;

/** n (< 2^14) as a 1- or 2-byte varint at `at`; returns where the next byte goes. */
function writeCount(bytes: Buffer, at: number, n: number): number {
  if (n < 0x80) {
    bytes[at] = n;
    return at + 1;
  }
  bytes[at] = (n & 0x7f) | 0x80;
  bytes[at + 1] = n >> 7;
  return at + 2;
}

/**
 * Sorted runs merged as they are read (a k-way merge over their bytes): the merged order is never
 * held, so a folder's names take their bytes once. Slices are read in order.
 */
export class MergedNames implements NameList {
  readonly length: number;
  caseVariants: ReadonlySet<number> | undefined;
  foldedHashes: Uint32Array | undefined;
  private taken = 0;
  /** A binary heap of the runs not yet read out, the run whose current name is smallest first. */
  private readonly heap: PackedNames[];

  constructor(runs: PackedNames[]) {
    this.length = runs.reduce((n, r) => n + r.length, 0);
    this.heap = runs.filter((r) => r.advance());
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  slice(start: number, end: number): string[] {
    if (start !== this.taken) throw new Error(`merged names are read in order: asked from ${start}, at ${this.taken}`);
    const out: string[] = [];
    const heap = this.heap;
    for (const to = Math.min(end, this.length); this.taken < to; this.taken++) {
      const run = heap[0]!;
      out.push(run.currentName());
      if (!run.advance()) {
        heap[0] = heap[heap.length - 1]!;
        heap.pop();
      }
      this.down(0);
    }
    return out;
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) return;
      const c = l + 1 < heap.length && less(heap[l + 1]!, heap[l]!) ? l + 1 : l;
      if (!less(heap[c]!, heap[i]!)) return;
      [heap[c], heap[i]] = [heap[i]!, heap[c]!];
      i = c;
    }
  }
}

/** Run a's current name sorts before run b's (strcmp of their bytes). */
function less(a: PackedNames, b: PackedNames): boolean {
  return compareBytes(a.current, 0, a.currentLength, b.current, 0, b.currentLength) < 0;
}

/**
 * a[a0, a1) against b[b0, b1) as strcmp orders them (< 0: a first). In JS: Buffer#compare with
 * offsets spent 0.8 s of a million-file no-op validating its arguments, for names ~34 bytes long.
 */
export function compareBytes(a: Uint8Array, a0: number, a1: number, b: Uint8Array, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let i = 0; i < n; i++) {
    const d = a[a0 + i]! - b[b0 + i]!;
    if (d !== 0) return d;
  }
  return a1 - a0 - (b1 - b0);
}

/** A copy of bytes[0, used) in a buffer of at least `need` bytes. */
function grown(bytes: Buffer, used: number, need: number): Buffer {
  const next = Buffer.allocUnsafe(Math.max(need, bytes.length * 2));
  bytes.copy(next, 0, 0, used);
  return next;
}

/** UTF-16 order equals UTF-8 byte order except between surrogate pairs and U+E000-U+FFFF. */
const ASTRAL_OR_PRIVATE = /[\ud800-\uffff]/;

/** A comparison of names in strcmp order of their UTF-8 bytes (PackedNames' order), for a sort of `names`. */
export function byteOrderOf(names: Iterable<string>): (a: string, b: string) => number {
  for (const n of names) if (ASTRAL_OR_PRIVATE.test(n)) return byCodePoint;
  return byCodeUnit;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (code points above U+FFFF) sort after U+E000-U+FFFF in UTF-8.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}
