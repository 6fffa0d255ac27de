/** Runs a look-alike executable as a user would and hands back its exit code and output, failures included. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

export interface ExeResult {
  code: number;
  stdout: string;
  stderr: string;
}

const run = promisify(execFile);

export async function exe(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ExeResult> {
  try {
    const { stdout, stderr } = await run(file, args, { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as ExeResult;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
