/**
 * Secrets octoha reads from the environment by default, registered with the redactor by verbs that
 * read no plan (`octoha copy`): the workflows register the variables their plan names
 * (src/plan/secrets.ts), and a verb without a plan must still not print the SQL password when it is
 * a file's name. Here, below the workflow stack, so `copy` registers them without loading it.
 */
import { redactor as globalRedactor, type Redactor } from "./redact.js";
import { connectionStringPasswords } from "./connection-string-settings.js";

/** The variables the README names for the API key and the SQL connection string (a new plan's defaults). */
export const DEFAULT_SECRET_VARIABLES: readonly string[] = ["OCTOPUS_API_KEY", "OCTOHA_SQL_CONNECTION_STRING"];

/** Register each default secret variable's value, and the password of a connection string among them. */
export function registerDefaultSecrets(env: Readonly<Record<string, string | undefined>>, redactor: Redactor = globalRedactor): void {
  for (const name of DEFAULT_SECRET_VARIABLES) {
    const value = env[name];
    if (value === undefined || value.trim() === "") continue;
    redactor.add(value);
    for (const p of connectionStringPasswords(value)) redactor.add(p);
  }
}
