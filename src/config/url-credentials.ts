/**
 * Credentials in `redis://` / `rediss://` URLs: decoding them as the user meant, and masking them
 * in every text df2redis prints (messages, logs).
 *
 * Grammar (redis-cli `-u`, node-redis): `redis://[user[:password]@]host[:port][/db]`. The user
 * info ends at the *last* `@` of the URL, so a password may hold `@`, `:` or `/`; `%XX` escapes are
 * decoded, and a `%` that starts no valid escape is kept as it is (a literal `%` in a password).
 */

/**
 * Percent-decodes one user-info part. Valid `%XX` escapes (UTF-8) are decoded; a `%` not followed
 * by two hex digits stays a literal `%`; a sequence that is not valid UTF-8 leaves the text as given.
 * Never throws (WHATWG `URL` keeps such `%` as is, where `decodeURIComponent` would throw URIError).
 */
export function decodeUrlPart(s: string): string {
  const escaped = s.replace(/%(?![0-9a-f]{2})/gi, '%25');
  try {
    return decodeURIComponent(escaped);
  } catch {
    return s;
  }
}

/**
 * Splits a `--target` value into its URLs: commas separate URLs only where the next URL starts
 * (`,redis://` or `,rediss://`), so a comma inside a password does not split it.
 */
export function splitUrlList(spec: string): string[] {
  return spec
    .split(/,(?=\s*rediss?:\/\/)/i)
    .map((u) => u.trim().replace(/,+$/, ''))
    .filter((u) => u !== '');
}

const URL_START = /rediss?:\/\//gi;

/**
 * `text` with the password of every `redis://` / `rediss://` URL in it replaced by `***`:
 * `redis://user:pw@h` → `redis://user:***@h`, `redis://:pw@h` → `redis://:***@h`, and a lone user
 * part, which df2redis takes as the password (`redis://pw@h`), → `redis://***@h`. A URL runs until
 * whitespace, a double quote or the next URL; its user info ends at its last `@`. Text without URLs
 * is returned unchanged.
 */
export function maskUrlPasswords(text: string): string {
  const starts = [...text.matchAll(URL_START)].map((m) => m.index!);
  if (starts.length === 0) return text;
  let out = text.slice(0, starts[0]);
  for (let i = 0; i < starts.length; i++) {
    const from = starts[i]!;
    const next = i + 1 < starts.length ? starts[i + 1]! : text.length;
    const piece = text.slice(from, next);
    const schemeLen = piece.indexOf('//') + 2;
    const endMatch = /[\s"]/.exec(piece.slice(schemeLen));
    const urlEnd = endMatch === null ? piece.length : schemeLen + endMatch.index;
    const at = piece.lastIndexOf('@', urlEnd - 1);
    // `[user:password@]` is the grammar in a help text, not a URL.
    if (at < schemeLen || piece[schemeLen] === '[') {
      out += piece;
      continue;
    }
    const userinfo = piece.slice(schemeLen, at);
    const colon = userinfo.indexOf(':');
    const masked = colon >= 0 ? `${userinfo.slice(0, colon)}:***` : '***';
    out += piece.slice(0, schemeLen) + masked + piece.slice(at);
  }
  return out;
}
