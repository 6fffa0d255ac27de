#!/usr/bin/env node
/** The node-control look-alikes as a process: `bin.js sc|powershell|ssh …` (scripts written by writeNodeControlLookalikes). */
import { readFileSync } from "node:fs";
import { CONFIG_ENV, type LookalikeConfig } from "./config.js";
import { powershell } from "./powershell.js";
import { sc } from "./sc.js";
import { ssh } from "./ssh.js";

const [tool, ...args] = process.argv.slice(2);
const file = process.env[CONFIG_ENV];
if (!file) {
  process.stderr.write(`${CONFIG_ENV} is not set\n`);
  process.exit(2);
}
const config = JSON.parse(readFileSync(file, "utf8")) as LookalikeConfig;
const run = tool === "sc" ? sc : tool === "powershell" ? powershell : tool === "ssh" ? ssh : undefined;
if (!run) {
  process.stderr.write(`unknown look-alike ${tool ?? ""}\n`);
  process.exit(2);
}
const r = await run(config, args);
process.stdout.write(r.stdout);
process.stderr.write(r.stderr);
process.exitCode = r.exitCode;
