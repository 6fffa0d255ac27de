/** The faults a test can set on the stand-in through its control API. */

/** Misbehaviour of one listener ("lb" or a node name). Counts are deterministic; rates use a seeded PRNG. */
export interface ListenerFaults {
  /** Answer the next N requests with errorStatus. */
  failNext?: number;
  /** Fraction (0..1) of requests answered with errorStatus. */
  errorRate?: number;
  /** 5xx status to answer with (default 503). */
  errorStatus?: number;
  /** Delay before every answer. */
  latencyMs?: number;
  /** Destroy the socket of the next N requests without answering. */
  resetNext?: number;
  /** Fraction (0..1) of requests whose socket is destroyed. */
  resetRate?: number;
}

/** Faults of the octopus-server executable, read by it through the control API. */
export interface ExecutableFaults {
  /** `path` exits non-zero without changing anything. */
  failPath?: boolean;
}
