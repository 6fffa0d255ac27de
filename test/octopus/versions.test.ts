import { describe, expect, it } from "vitest";
import { compareVersions, featuresOf } from "../../src/octopus/versions.js";

describe("Octopus version gates", () => {
  it("offers --clusterShared from 2020.2.15 and not on 2020.2.14", () => {
    expect(featuresOf("2020.2.15").clusterShared).toBe(true);
    expect(featuresOf("2020.2.14").clusterShared).toBe(false);
  });
  it("offers --imports from 2021.1 and --eventExports from 2023.3", () => {
    expect(featuresOf("2020.6.4000").imports).toBe(false);
    expect(featuresOf("2021.1.7000").imports).toBe(true);
    expect(featuresOf("2023.2.9000").eventExports).toBe(false);
    expect(featuresOf("2023.3.10000").eventExports).toBe(true);
  });
  it("expects per-task log directories from 2025.2.10530", () => {
    expect(featuresOf("2025.2.10529").perTaskLogDirectories).toBe(false);
    expect(featuresOf("2025.2.10530").perTaskLogDirectories).toBe(true);
  });
  it("does not trust node --drain --wait before 2025.3.10568", () => {
    expect(featuresOf("2025.3.10567").trustDrainWait).toBe(false);
    expect(featuresOf("2026.1.100").trustDrainWait).toBe(true);
  });
  it("flags the 2023.3 duplicate-execution bug only before 2023.3.13026", () => {
    expect(featuresOf("2023.3.13025").duplicateExecutionBug).toBe(true);
    expect(featuresOf("2023.3.13026").duplicateExecutionBug).toBe(false);
    expect(featuresOf("2023.2.1").duplicateExecutionBug).toBe(false);
  });
  it("compares numerically, not as text", () => {
    expect(compareVersions("2023.10.1", "2023.9.99")).toBe(1);
    expect(compareVersions("3.17", "3.17.0")).toBe(0);
  });
});
