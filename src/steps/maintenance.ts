/**
 * maintenance-on / maintenance-off. On records the cluster's maintenance mode first and switches
 * it on (approval gate); off puts it back to what maintenance-on recorded (off unless the operator
 * had it on before the run). Each step's rollback restores its own before-state.
 */
import type { MaintenanceMode } from "../octopus/types.js";
import type { Step } from "../runner/step.js";
import type { RunFacts } from "./facts.js";
import type { MaintenanceResult } from "./results.js";

export interface MaintenanceDeps {
  ports: { maintenance: MaintenanceMode };
  facts: RunFacts;
}

export function createMaintenanceOnStep(deps: MaintenanceDeps): Step<MaintenanceResult, "maintenance-on"> {
  const { maintenance } = deps.ports;
  return {
    id: "maintenance-on",
    title: "Switch on maintenance mode",
    requiresApproval: true,
    async inspect() {
      const on = await maintenance.isOn();
      return {
        changes: [
          on
            ? { action: "noop", target: "maintenance mode", before: true, after: true, summary: "maintenance mode is already on" }
            : {
                action: "update",
                target: "maintenance mode",
                before: false,
                after: true,
                summary: "switch maintenance mode on (only administrators can change anything)",
              },
        ],
        findings: [],
      };
    },
    async apply(ctx, last) {
      // The mode drain-nodes saw with the nodes, before this run changed anything (see DrainResult).
      const recorded = deps.facts.get("drain-nodes")?.maintenanceBefore;
      const r = last ?? { before: recorded ?? (await maintenance.isOn()), after: true };
      if (!last) await ctx.checkpoint(r);
      if (!(await maintenance.isOn())) await maintenance.set(true);
      deps.facts.set("maintenance-on", r);
      return r;
    },
    async verify() {
      const on = await maintenance.isOn();
      return { ok: on, summary: on ? "maintenance mode is on" : "maintenance mode is off" };
    },
    async rollback(_ctx, r) {
      if ((await maintenance.isOn()) !== r.before) await maintenance.set(r.before);
    },
  };
}

export function createMaintenanceOffStep(deps: MaintenanceDeps): Step<MaintenanceResult, "maintenance-off"> {
  const { maintenance } = deps.ports;
  const target = () => deps.facts.get("maintenance-on")?.before ?? false;
  return {
    id: "maintenance-off",
    title: "Put maintenance mode back as it was",
    async inspect() {
      const on = await maintenance.isOn();
      // Previewed before maintenance-on ran: what it will record is the mode right now.
      const after = deps.facts.get("maintenance-on")?.before ?? on;
      return {
        changes: [
          {
            action: "update",
            target: "maintenance mode",
            before: true,
            after,
            summary: after ? "leave maintenance mode on (it was on before the run)" : "switch maintenance mode off",
          },
        ],
        findings: [],
        facts: { currentlyOn: on },
      };
    },
    async apply(ctx, last) {
      const r = last ?? { before: await maintenance.isOn(), after: target() };
      if (!last) await ctx.checkpoint(r);
      if ((await maintenance.isOn()) !== r.after) await maintenance.set(r.after);
      return r;
    },
    async verify(_ctx, r) {
      const on = await maintenance.isOn();
      return { ok: on === r.after, summary: `maintenance mode is ${on ? "on" : "off"}` };
    },
    async rollback(_ctx, r) {
      if ((await maintenance.isOn()) !== r.before) await maintenance.set(r.before);
    },
  };
}
