/**
 * Hiding the password of a database URL in anything printed. A module of its own, with no
 * driver behind it, so a command's usage and argument errors come without loading the drivers.
 */

/**
 * The URL with every password replaced by `***`, safe for logs and error messages: the one in
 * the user info (up to the last `@` before the host, so a password holding a raw `@` or `/` is
 * hidden whole) and query parameters that carry one (`?password=`, `sslpassword`, `pass`,
 * `passwd`, `pwd`), which both drivers accept as well.
 */
export function redactUrl(url: string): string {
  let out = url;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(out);
  if (scheme) {
    const rest = out.slice(scheme[0].length);
    const queryAt = rest.search(/[?#]/);
    const authorityAndPath = queryAt < 0 ? rest : rest.slice(0, queryAt);
    const at = authorityAndPath.lastIndexOf("@");
    const colon = authorityAndPath.indexOf(":");
    if (at > 0 && colon >= 0 && colon < at) {
      out = `${scheme[0]}${rest.slice(0, colon + 1)}***${rest.slice(at)}`;
    }
  }
  return out.replace(/([?&](?:password|sslpassword|pass|passwd|pwd)=)[^&#]*/gi, "$1***");
}
