/**
 * Names as a Windows share compares them: case-insensitively. `Foo.txt` and `foo.txt` are one file
 * there even when the Linux path we write through keeps them apart.
 */

export function foldName(name: string): string {
  return name.toLowerCase();
}

/** Whether the string the last hashOf call hashed was all ASCII. */
let hashedAscii = true;

/** The last hashOf call's name was ASCII, so its hash is its case-folded name's. */
export function lastHashedAscii(): boolean {
  return hashedAscii;
}

/**
 * FNV-1a of a name with A-Z folded as it goes: for an ASCII name that is its case-folded hash
 * (toLowerCase changes A-Z and nothing else), with no folded string made; another name must be
 * hashed again once folded (foldedHash does). Notes in lastHashedAscii() which it was.
 */
export function hashOf(name: string): number {
  let h = 0x811c9dc5;
  let ascii = true;
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 0x80) ascii = false;
    else if (c >= 0x41 && c <= 0x5a) c += 0x20;
    h = Math.imul(h ^ c, 16777619);
  }
  hashedAscii = ascii;
  return h >>> 0;
}

/** The hash of a name case-folded: equal for any two names a Windows share takes as one. */
export function foldedHash(name: string): number {
  const h = hashOf(name);
  return hashedAscii ? h : hashOf(foldName(name));
}

/**
 * The folded hashes that two or more of `count` hashes share. A name whose folded hash is not among
 * them has no case variant among those names (equal folded names have equal hashes); one whose hash
 * is may have one (or only share the hash: ~100 pairs in a million names). Sorts `hashes` in place.
 */
export function sharedHashes(hashes: Uint32Array, count: number): Set<number> {
  const sorted = hashes.subarray(0, count).sort();
  const shared = new Set<number>();
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) shared.add(sorted[i]!);
  return shared;
}
