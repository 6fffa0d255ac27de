/**
 * Every value from the plan or the command line that a generated configuration holds goes through
 * here: written as one word of that format (quoted when it needs to be), or refused with exit 2
 * naming where it came from and the character, when the format cannot hold it safely.
 *
 * HAProxy (configuration manual §2.2): inside single quotes nothing is interpreted, no `#`, `\`, `$`
 * or space; a single quote itself is closed, escaped and reopened ('…'\''…'). nginx: inside double
 * quotes `\\` and `\"` are the only escapes needed (`\t`, `\n`, `\r` would otherwise be read as
 * escapes), but a `$` in a directive that takes variables (ssl_certificate, ssl_certificate_key) starts
 * one, and there is no escape for it. Neither format holds a control character (a line break ends the
 * directive).
 */
import { InputError } from "../shared/errors.js";

/** Characters that need no quoting in either format. */
const PLAIN = /^[A-Za-z0-9_./:@%+=,~-]+$/;

const shownChar = (c: string): string => (/[\u0000-\u001f\u007f]/.test(c) ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}` : c);

function refuse(source: string, value: string, char: string, why: string, hint: string): never {
  throw new InputError(`${source} ${JSON.stringify(value)}: contains '${shownChar(char)}', ${why}; nothing was written`, {
    code: "LB_VALUE_UNSAFE",
    hint,
  });
}

function refuseControl(source: string, value: string, format: string): void {
  if (value === "")
    throw new InputError(`${source} is empty; nothing was written`, { code: "LB_VALUE_UNSAFE", hint: `Give ${source} a value.` });
  const control = /[\u0000-\u001f\u007f]/.exec(value)?.[0];
  if (control !== undefined)
    refuse(source, value, control, `a control character, which ${format} cannot hold in a value`, `Give ${source} a value without it.`);
}

/** One HAProxy word: as is when plain, else single-quoted. */
export function haproxyWord(value: string, source: string): string {
  refuseControl(source, value, "HAProxy");
  if (PLAIN.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** One nginx word: as is when plain, else double-quoted; `takesVariables`: the directive reads `$name` as a variable. */
export function nginxWord(value: string, source: string, o: { takesVariables?: boolean } = {}): string {
  refuseControl(source, value, "nginx");
  if (o.takesVariables && value.includes("$"))
    refuse(
      source,
      value,
      "$",
      "which nginx reads as the start of a variable in this directive and cannot escape",
      `Rename the file, or link it from a path without '$' (ln -s), and pass that path to ${source}.`,
    );
  if (PLAIN.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * A host name or address as a URL gives it (URL.hostname), where every format writes it bare (server
 * lines, server_name, the Host header, sni, an ARR farm): DNS names and IP addresses only. A URL
 * parser lets `;`, `'`, `{` … through in a host name; no real host has them.
 */
export function checkHost(host: string, source: string): void {
  const ipv6 = /^\[[0-9A-Fa-f:.]+\]$/.test(host);
  const bad = ipv6 ? undefined : /[^A-Za-z0-9_.-]/.exec(host)?.[0];
  if (bad !== undefined)
    refuse(
      source,
      host,
      bad,
      "which is not in a host name (letters, digits, '-', '.', '_') or an IP address",
      "Write the host's DNS name or IP address there.",
    );
}

/** A listen address (--bind, --stats): "*", empty, a host name, an IPv4 or (unbracketed) IPv6 address; `bind` as given. */
export function checkListenAddress(address: string, source: string, bind: string): void {
  const bad = /[^A-Za-z0-9_.:%*-]/.exec(address)?.[0];
  if (bad !== undefined)
    refuse(
      source,
      bind,
      bad,
      "which is not in a listen address",
      `Write ${source} as ADDRESS:PORT, e.g. *:443, 0.0.0.0:80, [::]:443 or 127.0.0.1:8080.`,
    );
}
