/**
 * One sentence for a failed connection to the relay, the same for the bridge's socket and the
 * CLI's HTTP calls: what went wrong at which host, and, where a common slip explains it, what to do.
 */
export function describeNetworkError(error: NodeJS.ErrnoException, url: string): string {
  let host = url;
  let secure = false;
  try {
    const parsed = new URL(url);
    host = parsed.host;
    secure = parsed.protocol === "https:" || parsed.protocol === "wss:";
  } catch {
    // Keep the text as given.
  }
  const text = `${error.code ?? ""} ${error.message}`;
  // An https:// URL for a plain-HTTP relay (a local `npm start`): OpenSSL's wording helps nobody.
  if (secure && /wrong version number|ERR_SSL|EPROTO|packet length too long|unexpected eof/i.test(text)) {
    return `relay unreachable: ${host} does not speak TLS; it looks like a plain-HTTP relay (a local \`npm start\`?): use http:// instead of https://`;
  }
  switch (error.code) {
    case "ECONNREFUSED":
      return `relay unreachable: nothing listening at ${host}`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `relay unreachable: cannot resolve ${host}`;
    case "ETIMEDOUT":
      return `relay unreachable: ${host} timed out`;
    default:
      return `relay unreachable: ${error.message}`;
  }
}
