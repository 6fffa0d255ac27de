/**
 * A full garbage collection on request. The planning pass lists every folder and leaves its listings
 * behind as garbage; the copy pass then lists the same folders again. V8 collects the old
 * generation only when it grows past its limit, so without a collection in between, a 250 000-file
 * TaskLogs folder was held twice (~30 MB more, measured with --trace-gc on the large preset) right
 * when the copy pass listed it: the copy's peak RSS swung between 187 and 222 MB.
 *
 * `gc` is not exposed without --expose-gc, which a CLI cannot pass to its own node. Setting the
 * flag at run time makes V8 install `gc` in contexts created afterwards, such as a vm context.
 */
import v8 from "node:v8";
import { runInNewContext } from "node:vm";

let gc: (() => void) | null | undefined;

/** Collect now if the runtime allows it; otherwise do nothing (it only bounds memory sooner). */
export function collectGarbage(): void {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      const found: unknown = runInNewContext("typeof gc === 'function' ? gc : null");
      gc = typeof found === "function" ? (found as () => void) : null;
    } catch {
      gc = null;
    }
  }
  gc?.();
}
