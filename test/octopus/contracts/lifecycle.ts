/** One harness per test: made before, closed after. Returns a getter for the current harness. */
import { afterEach, beforeEach } from "vitest";

export function useHarness<H extends { close(): Promise<void> }>(make: () => Promise<H>): () => H {
  let current: H | undefined;
  beforeEach(async () => {
    current = await make();
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return () => {
    if (!current) throw new Error("harness used outside a test");
    return current;
  };
}
