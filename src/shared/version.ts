/** octoha's own version, recorded in locks and journals (keep in step with package.json). */
export const OCTOHA_VERSION = "0.1.0";
