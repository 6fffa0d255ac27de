import { writeFile } from "node:fs/promises";
import path from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { lbConfig, LB_FORMATS, type LbFormat } from "../../lb/index.js";
import { loadPlan } from "../../plan/load.js";
import { InputError } from "../../shared/errors.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { redactor } from "../../shared/redact.js";
import { addOutputOptions, err, out, runVerb, wantsJson, type OutputFlags } from "../output.js";

interface LbFlags extends OutputFlags {
  format: LbFormat;
  out?: string;
  force?: boolean;
  bind?: string;
  down: string[];
  allowAllDown?: boolean;
  checkInterval?: number;
  checkFall?: number;
  checkRise?: number;
  checkTimeout?: number;
  stats: string;
  cert?: string;
  certKey?: string;
}

const intIn =
  (min: number, max: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    return n;
  };

async function writeConfig(file: string, text: string, force: boolean | undefined): Promise<string> {
  const abs = path.resolve(file);
  try {
    await writeFile(abs, text, { flag: force ? "w" : "wx" });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(
      code === "EEXIST" ? `${abs} already exists; nothing was written` : `${abs} could not be written (${code ?? String(error)})`,
      {
        code: code === "EEXIST" ? "LB_OUT_EXISTS" : "LB_OUT_UNWRITABLE",
        path: abs,
        hint: code === "EEXIST" ? "Choose another file name, or pass --force to replace it." : "Check the folder exists and is writable.",
      },
    );
  }
  return abs;
}

export function register(program: Command): void {
  const command = program
    .command("lb")
    .description("Write a load balancer configuration (HAProxy, nginx or IIS ARR) for the plan's nodes, health-checked on their ping")
    .argument("<plan>", "plan file (its serverUrl is the frontend, each node's url a backend)")
    .addOption(new Option("--format <format>", "load balancer").choices([...LB_FORMATS]).makeOptionMandatory())
    .option("--out <file>", "write the configuration to this file (default: print it)")
    .option("--force", "replace --out if it exists")
    .option("--bind <address:port>", "where the load balancer listens (default: *:<port of the plan's serverUrl>)")
    .option(
      "--down <node>",
      "take this node out of the pool (nginx's only way to drain one); repeatable",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--allow-all-down", "allow --down to name every node (the file then sends traffic nowhere)")
    .addOption(new Option("--check-interval <ms>", "milliseconds between two health checks of a node").argParser(intIn(100, 3_600_000)))
    .addOption(new Option("--check-fall <n>", "failed checks that take a node out").argParser(intIn(1, 100)))
    .addOption(new Option("--check-rise <n>", "good checks that put it back").argParser(intIn(1, 100)))
    .addOption(new Option("--check-timeout <ms>", "how long one check may take").argParser(intIn(100, 3_600_000)))
    .option("--stats <address:port>", "HAProxy stats page listener, or 'none'", "127.0.0.1:8404")
    .option(
      "--cert <file>",
      "TLS certificate when the plan's serverUrl is https (HAProxy: one PEM with the key; not iis-arr: IIS binds it from its store)",
    )
    .option("--cert-key <file>", "nginx only: the certificate's key (HAProxy's --cert PEM holds the key)")
    .addHelpText(
      "after",
      "\nReads the plan only; reaches nothing and holds no secret.\nExamples:\n  octoha lb plan.json --format haproxy --out /etc/haproxy/haproxy.cfg && haproxy -c -f /etc/haproxy/haproxy.cfg\n  octoha lb plan.json --format nginx --out /etc/nginx/conf.d/octopus.conf",
    );
  addOutputOptions(command).action(async (planFile: string, flags: LbFlags) =>
    runVerb("lb", wantsJson(flags), async () => {
      const { plan } = await loadPlan(planFile);
      const config = lbConfig(plan, {
        format: flags.format,
        bind: flags.bind,
        down: flags.down,
        allowAllDown: flags.allowAllDown,
        check: { intervalMs: flags.checkInterval, fall: flags.checkFall, rise: flags.checkRise, timeoutMs: flags.checkTimeout },
        stats: flags.stats === "none" ? undefined : flags.stats,
        cert: flags.cert,
        certKey: flags.certKey,
      });
      // The plan holds only env references, so there is nothing to redact; the redactor still has the last word.
      const text = redactor.redact(config.text);
      const file = flags.out ? await writeConfig(flags.out, text, flags.force) : undefined;
      const nodes = config.target.backends.map((b) => ({ node: b.node, server: `${b.host}:${b.port}`, scheme: b.scheme }));
      const result = { format: config.format, file, nodes, check: config.target.check, notes: config.notes, text };
      if (wantsJson(flags)) return { exitCode: ExitCode.Done, result };
      if (file) out([`Wrote ${file} (${config.format}, ${nodes.length} nodes).`, ...config.notes.map((n) => `  - ${n}`)].join("\n"));
      else {
        out(text);
        err(config.notes.map((n) => `octoha: ${n}`).join("\n"));
      }
      return { exitCode: ExitCode.Done, result };
    }),
  );
}
