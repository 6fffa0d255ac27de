/** "1 file", "0 files", "2 files": a count and its noun, as a person would write them. */
export function countOf(count: number, noun: string, plural = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : plural}`;
}
