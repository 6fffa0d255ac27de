/** A two-node cluster in temp dirs: each node's local folders hold the history it ran (the classic HA misconfiguration). */
import path from "node:path";
import { createFakeCluster, defaultFakeState, type FakeCluster, type FakeKnobs } from "../octopus/fakes.js";
import { createRunFacts, type RunFacts } from "../../src/steps/facts.js";
import { buildSteps, type AnyStep } from "../../src/steps/workflows.js";
import type { WorkflowName } from "../../src/model/step-ids.js";
import type { Plan, PlanInput } from "../../src/plan/schema.js";
import type { CopyEngine } from "../../src/steps/deps.js";
import { fakeClock } from "../helpers/fake-clock.js";
import { createFileCopyEngine, tempDir, twoNodePlan, writeFiles } from "./helpers.js";

export interface ClusterFixture {
  root: string;
  plan: Plan;
  cluster: FakeCluster;
  engine: ReturnType<typeof createFileCopyEngine>;
  facts: RunFacts;
  clock: ReturnType<typeof fakeClock>;
  stateDir: string;
  steps(
    name: WorkflowName,
    flags?: { cancelTasks?: boolean; verifyAll?: boolean; full?: boolean },
    env?: Record<string, string | undefined>,
    journaledStepIds?: readonly string[],
  ): AnyStep[];
  cleanup(): Promise<void>;
}

export const SQL_SECRET = "Server=sql01;Database=Octopus;User Id=octo;Password=Sup3rS3cret!;";

/** `engine`: the copy engine the steps use (default: the recording file-copy fake). */
export async function clusterFixture(
  options: { knobs?: Partial<FakeKnobs>; planOptions?: Partial<PlanInput["options"]>; engine?: CopyEngine } = {},
): Promise<ClusterFixture> {
  const { dir: root, cleanup } = await tempDir();
  const plan = twoNodePlan(root, options.planOptions);
  await writeFiles(path.join(root, "OCTO1"), {
    "TaskLogs/servertasks-1_AAAAAAAAAA.txt": "log of task 1 from OCTO1",
    "TaskLogs/servertasks-3_CCCCCCCCCC.txt": "log of task 3 from OCTO1",
    "TaskLogs/scheduledtasks_processsubscriptions.txt": "OCTO1 scheduler",
    "Artifacts/Spaces-1/ServerTasks-1/report.html": "<p>artifact 1</p>",
    "Packages/Spaces-1/feeds-builtin/Acme/Acme.1.4.0.zip": "ACME-1.4.0",
  });
  await writeFiles(path.join(root, "OCTO2"), {
    "TaskLogs/servertasks-2_BBBBBBBBBB/part1.tl.txt": "log of task 2 from OCTO2",
    // Task 3 ran on OCTO1; OCTO2 holds a stale, different file with the same name.
    "TaskLogs/servertasks-3_CCCCCCCCCC.txt": "stale copy on OCTO2",
    "TaskLogs/scheduledtasks_processsubscriptions.txt": "OCTO2 scheduler",
    "Packages/Spaces-1/feeds-builtin/Widget/Widget.2.0.0.nupkg": "WIDGET-2.0.0",
    "Packages/Spaces-1/feeds-builtin/Acme/Acme.1.4.0.zip": "ACME-1.4.0 rebuilt on OCTO2",
  });
  const state = defaultFakeState();
  const log = (text: string) => ({ OCTO1: text, OCTO2: text });
  state.tasks = [
    { id: "ServerTasks-1", name: "Deploy", state: "Success", serverNode: "OCTO1", completedTime: "2026-01-01T00:00:00Z", logVia: log("1") },
    // 2018+ schema: the column holds the node id.
    {
      id: "ServerTasks-2",
      name: "Deploy",
      state: "Failed",
      serverNode: "OctopusServerNodes-OCTO2",
      completedTime: "2026-01-02T00:00:00Z",
      logVia: log("2"),
    },
    {
      id: "ServerTasks-3",
      name: "RunbookRun",
      state: "Success",
      serverNode: "octopusservernodes-octo1",
      completedTime: "2026-01-03T00:00:00Z",
      logVia: log("3"),
    },
  ];
  state.packages = [
    { id: "packages-Acme.1.4.0", packageId: "Acme", version: "1.4.0", spaceId: "Spaces-1" },
    { id: "packages-Widget.2.0.0", packageId: "Widget", version: "2.0.0", spaceId: "Spaces-1" },
  ];
  const cluster = createFakeCluster(state, options.knobs);
  const engine = createFileCopyEngine();
  const facts = createRunFacts();
  const clock = fakeClock();
  const stateDir = path.join(root, "state");
  return {
    root,
    plan,
    cluster,
    engine,
    facts,
    clock,
    stateDir,
    steps: (name, flags = {}, env, journaledStepIds) =>
      buildSteps(name, {
        ...(journaledStepIds ? { journaledStepIds } : {}),
        plan,
        stateDir,
        ports: cluster.ports,
        engine: options.engine ?? engine,
        flags: {
          cancelTasks: flags.cancelTasks ?? false,
          verifyAll: flags.verifyAll ?? false,
          removeCopies: false,
          full: flags.full ?? false,
        },
        version: state.version,
        facts,
        clock,
        env: env ?? { OCTOPUS_API_KEY: "API-ABCDEFGHIJKLMNOPQRSTUV", OCTOHA_TEST_SQL: SQL_SECRET },
        pollIntervalMs: 1000,
      }),
    cleanup,
  };
}
