#!/usr/bin/env node
/** The stand-in's Octopus.Server.exe as a process (see octopus-server.ts). */
import { runOctopusServer } from "./octopus-server.js";

const result = await runOctopusServer(process.argv.slice(2), { env: process.env });
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.exitCode;
