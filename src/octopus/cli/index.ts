/** The Octopus.Server.exe side of OctopusPorts. */
export { CliServerFolders, parseShowConfiguration, configValue, type ServerExeOptions } from "./folders.js";
export { runExe, type ExeRunOptions, type ExeOutput } from "./exec.js";
