/**
 * A manifest's index as a run needs it: read from the snapshot beside the manifest when one
 * matches, plus the lines appended since; and the snapshot written again once a copy has appended
 * more. Apart from manifest.ts (the record format and its index) and manifest-snapshot.ts (the
 * snapshot's bytes), so that neither of those two needs the other both ways.
 */
import { classifyFsError } from "./copy-errors.js";
import { writeFully, type FileOps, type OpenFile } from "./file-ops.js";
import { ManifestIndex, parseFrom } from "./manifest.js";
import { readSnapshot, snapshotCoveredBytes, writeSnapshot } from "./manifest-snapshot.js";

/**
 * Read a manifest (missing file = empty): from its snapshot when one matches, plus the lines
 * appended since. A torn last line from a crash is ignored.
 */
export async function loadManifest(ops: FileOps, file: string): Promise<ManifestIndex> {
  let handle: OpenFile;
  try {
    handle = await ops.open(file, "r");
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw classifyFsError(error, { side: "target", path: file });
    const index = new ManifestIndex();
    const was = await snapshotCoveredBytes(ops, file);
    if (was !== undefined) index.shrunk = { was, now: undefined };
    return index;
  }
  try {
    const size = (await handle.stat()).size;
    const snapshot = await readSnapshot(ops, file, handle, size);
    const index = snapshot?.index ?? new ManifestIndex();
    if (!snapshot) {
      const was = await snapshotCoveredBytes(ops, file);
      if (was !== undefined && was > size) index.shrunk = { was, now: size };
    }
    const from = snapshot?.bytes ?? 0;
    index.coveredBytes = await parseFrom(handle, from, index, file);
    index.snapshotFresh = snapshot !== undefined && index.coveredBytes === from;
    return index;
  } catch (error) {
    throw classifyFsError(error, { side: "target", path: file }); // a folder under the manifest's name, a read that failed
  } finally {
    await handle.close();
  }
}

/**
 * Bring `index` (loaded by loadManifest) up to the manifest's end and write its snapshot, so the
 * next run starts from it. Does nothing when the loaded snapshot was already current and nothing
 * was appended. A snapshot is a cache: failing to write one costs the next run time, not data.
 */
export async function refreshManifestSnapshot(ops: FileOps, file: string, index: ManifestIndex): Promise<void> {
  let handle: OpenFile;
  try {
    handle = await ops.open(file, "r");
  } catch {
    return;
  }
  try {
    const before = index.coveredBytes;
    index.coveredBytes = await parseFrom(handle, before, index, file);
    if (index.snapshotFresh && index.coveredBytes === before) return;
    // A snapshot holds the vouching table only: intents still open (their source file gone, say)
    // are appended again past the bytes it covers, durably before it is written, for the next run to parse.
    if (index.openIntentCount > 0) await appendOpenIntents(ops, file, index);
    index.fit();
    await writeSnapshot(ops, file, handle, index);
    index.snapshotFresh = true;
  } catch {
    // Left for the next run to parse in full.
  } finally {
    await handle.close();
  }
}

async function appendOpenIntents(ops: FileOps, file: string, index: ManifestIndex): Promise<void> {
  const handle = await ops.open(file, "a");
  try {
    await writeFully(handle, Buffer.from(index.openIntentLines().join("\n") + "\n"));
    await handle.sync();
  } finally {
    await handle.close();
  }
}
