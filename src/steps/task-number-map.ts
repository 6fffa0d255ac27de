/**
 * Task numbers (ServerTasks-<n>) mapped to a small value, in typed arrays: an open-addressing table
 * of 10 bytes a slot (~20 bytes a task) instead of ~50-80 for a Map or Set of numbers. A million
 * completed tasks, or a million log names in a folder, stay at ~20 MB.
 */
export class TaskNumberMap {
  /** n + 1 per slot; 0 = free (task numbers are >= 0). */
  private keys = new Float64Array(1024);
  private values = new Uint16Array(1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Set (or replace) n's value; values are 0 … 65535. */
  set(n: number, value = 0): void {
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    const s = this.slotOf(n);
    if (this.keys[s] === 0) {
      this.keys[s] = n + 1;
      this.count++;
    }
    this.values[s] = value;
  }

  has(n: number): boolean {
    return this.keys[this.slotOf(n)] !== 0;
  }

  get(n: number): number | undefined {
    const s = this.slotOf(n);
    return this.keys[s] === 0 ? undefined : this.values[s];
  }

  /** n's slot, or the free slot where it would go. */
  private slotOf(n: number): number {
    const mask = this.keys.length - 1;
    const key = n + 1;
    let s = (Math.imul(n >>> 0, 0x9e3779b1) ^ Math.floor(n / 4294967296)) & mask;
    while (this.keys[s] !== 0 && this.keys[s] !== key) s = (s + 1) & mask;
    return s;
  }

  private grow(): void {
    const keys = this.keys;
    const values = this.values;
    this.keys = new Float64Array(keys.length * 2);
    this.values = new Uint16Array(keys.length * 2);
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === 0) continue;
      const s = this.slotOf(keys[i]! - 1);
      this.keys[s] = keys[i]!;
      this.values[s] = values[i]!;
    }
  }
}
