/** @octoha/standin/testing: the stand-in in a temp dir with a manual clock, and small SQL fixtures, for tests. */
export { nodeUrls, startTestStandin, type TestStandin } from "./harness.js";
export { madeUpPassword, withSecret } from "./made-up.js";
export { makeClusterState, SQL_DATABASE, SQL_PASSWORD, SQL_USER, startSqlStandin, type SeedOptions } from "./sql-cluster.js";
export {
  writeNodeControlLookalikes,
  DEFAULT_UNIT,
  DEFAULT_WINDOWS_EXE,
  type HostFault,
  type LookalikeCall,
  type NodeControlLookalikes,
  type LookalikeOptions,
} from "../lookalikes/index.js";
