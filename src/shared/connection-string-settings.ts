/**
 * The settings of an ADO.NET connection string, read as the driver reads them: the SQL checks
 * (src/octopus/sql/connection-string.ts) and the secrets a verb registers before it prints anything
 * (src/shared/environment-secrets.ts, src/plan/secrets.ts) share this one reader. Here, below the
 * workflow stack, so `copy` can use it without loading that.
 */

/**
 * The settings of an ADO.NET connection string in order, keys lower-cased, values unquoted. A value
 * may be quoted ("…" or '…', the quote doubled inside) or {braced}, and then hold a ';' or an '=':
 * a password `"Zq9;Server=h,1"` is one value, never a Server setting (a split on every ';' read it
 * as one, and the port check then quoted a piece of the password back).
 */
export function settingsOf(connectionString: string): [string, string][] {
  const out: [string, string][] = [];
  const text = connectionString;
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === ";" || /\s/.test(text[i]!))) i++;
    const eq = text.indexOf("=", i);
    const semi = text.indexOf(";", i);
    if (eq < 0 || (semi >= 0 && semi < eq)) {
      i = semi < 0 ? text.length : semi + 1; // a part without '=': not a setting
      continue;
    }
    const key = text.slice(i, eq).trim().toLowerCase().replace(/\s+/g, " ");
    i = eq + 1;
    while (i < text.length && text[i] !== "\n" && /\s/.test(text[i]!)) i++;
    let value = "";
    const open = text[i];
    if (open === '"' || open === "'" || open === "{") {
      const close = open === "{" ? "}" : open;
      i++;
      for (; i < text.length; i++) {
        if (text[i] !== close) value += text[i];
        else if (text[i + 1] === close)
          value += text[i++]; // doubled: the character itself
        else break;
      }
      i++; // the closing quote (or the end)
      const end = text.indexOf(";", i);
      i = end < 0 ? text.length : end + 1;
    } else {
      const end = text.indexOf(";", i);
      value = text.slice(i, end < 0 ? text.length : end).trim();
      i = end < 0 ? text.length : end + 1;
    }
    if (key !== "") out.push([key, value]);
  }
  return out;
}

/** The settings by key (the last one wins, as in ADO.NET); values are only looked at for the checks below. */
/**
 * The password settings' values (Password=, Pwd=; quoted or braced values whole): registered as
 * secrets of their own, so a message that quotes only the password (a driver's error, a fragment)
 * hides it as the whole connection string is hidden.
 */
export function connectionStringPasswords(connectionString: string): string[] {
  return settingsOf(connectionString)
    .filter(([key, value]) => (key === "password" || key === "pwd") && value !== "")
    .map(([, value]) => value);
}
