/** How a TDS endpoint can be told to misbehave, and the knobs its connections share. */

export interface TdsFaults {
  /** One-shot: the next response that has sent this many rows cuts its connection, then the knob clears. */
  dropConnectionAfterRows?: number;
  /** Reset this many upcoming connections right after accept. */
  dropNextConnections?: number;
  /** Delay before answering each login and request. */
  latencyMs?: number;
}

/** Shared by every connection of one server: the current fault knobs. */
export class FaultState {
  /** Messages received by every connection (tests wait for a query to be in flight). */
  received = 0;
  constructor(public faults: TdsFaults = {}) {}

  /** True (and consumes one) when the next accepted connection must be dropped. */
  takeConnectionDrop(): boolean {
    const n = this.faults.dropNextConnections ?? 0;
    if (n <= 0) return false;
    this.faults = { ...this.faults, dropNextConnections: n - 1 };
    return true;
  }

  /** True (and clears the knob) when a response that has sent `rows` rows must cut its connection. */
  takeRowDrop(rows: number): boolean {
    const limit = this.faults.dropConnectionAfterRows;
    if (limit === undefined || rows < limit) return false;
    const { dropConnectionAfterRows: _dropped, ...rest } = this.faults;
    this.faults = rest;
    return true;
  }
}
