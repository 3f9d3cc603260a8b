// The app's URL form of keys and prefixes: every byte percent-encoded except
// unreserved characters and `/`, so readable keys stay readable in links.

const KEEP = /[A-Za-z0-9\-._~/]/;

/** Percent-encodes a key or prefix (string as UTF-8, or a Buffer). */
export function toUrl(bytes) {
  let out = '';
  for (const b of Buffer.from(bytes)) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && KEEP.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Decodes the URL form back to bytes (`+` is a plus, not a space). */
export function fromUrl(text) {
  const out = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '%' && /^[0-9a-f]{2}$/i.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(...Buffer.from(text[i]));
    }
  }
  return Buffer.from(out);
}

/** The in-app address of a level and, optionally, a selected key. */
export function browseHref({ prefix = '', key = null } = {}) {
  const params = [];
  if (Buffer.from(prefix).length) params.push(`prefix=${toUrl(prefix)}`);
  if (key !== null) params.push(`key=${toUrl(key)}`);
  return params.length ? `/?${params.join('&')}` : '/';
}
