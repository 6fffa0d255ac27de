/**
 * Which node ran each task, per the database, so a task-log collision keeps that node's copy.
 * The DB column holds a node name (3.x) or a node id (2018+): both are matched, case-insensitively.
 */
import type { DatabaseInventory, NodeRow } from "../octopus/types.js";
import type { TaskLogOwner } from "../storage/types.js";
import { TaskNumberMap } from "./task-number-map.js";

const TASK_LOG_NAME = /^servertasks-(\d+)_/i;

/** "servertasks-123_ABC.txt" or "servertasks-123_ABC/part.tl.txt" → 123. */
export function taskNumberOf(relPath: string): number | undefined {
  const first = relPath.split(/[\\/]/)[0] ?? "";
  const m = TASK_LOG_NAME.exec(first);
  return m ? Number(m[1]) : undefined;
}

/** "ServerTasks-123" → 123. */
export function taskNumberOfId(taskId: string): number | undefined {
  const m = /^servertasks-(\d+)$/i.exec(taskId);
  return m ? Number(m[1]) : undefined;
}

function nodeNameResolver(nodes: readonly NodeRow[]): (stored: string | null) => string | undefined {
  const byKey = new Map<string, string>();
  for (const n of nodes) {
    byKey.set(n.id.toLowerCase(), n.name);
    byKey.set(n.name.toLowerCase(), n.name);
  }
  return (stored) => (stored ? byKey.get(stored.toLowerCase()) : undefined);
}

export async function buildTaskLogOwner(inventory: DatabaseInventory): Promise<{ owner: TaskLogOwner; tasksWithOwner: number }> {
  const resolve = nodeNameResolver(await inventory.nodes());
  // The rows arrive a page at a time (keyset paging); what stays is a node number per task.
  const names: string[] = [];
  const numbers = new Map<string, number>();
  const owners = new TaskNumberMap();
  for await (const row of inventory.tasks()) {
    const n = taskNumberOfId(row.id);
    const name = resolve(row.serverNode);
    if (n === undefined || !name) continue;
    let i = numbers.get(name);
    if (i === undefined) numbers.set(name, (i = names.push(name) - 1));
    owners.set(n, i);
  }
  return {
    owner: (relPath) => {
      const n = taskNumberOf(relPath);
      const i = n === undefined ? undefined : owners.get(n);
      return i === undefined ? undefined : names[i];
    },
    tasksWithOwner: owners.size,
  };
}
