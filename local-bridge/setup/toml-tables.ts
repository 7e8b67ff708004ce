/**
 * A careful edit of a TOML file (Codex's config.toml) that owns a few whole tables and leaves every
 * other byte as it was: comments, order, formatting. No TOML library is a dependency here, and a
 * full parse-and-rewrite would drop the person's comments anyway; a table-level edit needs only
 * to find where each table starts, which takes headers, keys and multi-line strings, nothing more.
 *
 * A table we own may also have been written another way (a dotted key `mcp_servers.relay.url = …`
 * or an inline `relay = { … }` inside `[mcp_servers]`): rewriting that correctly would need a real
 * parser, so it is refused with a message saying what to remove by hand, and nothing is written.
 */
import { UsageError } from "../core/errors.ts";

export interface TomlSection {
  /** The header's key path (`["mcp_servers", "relay"]`), or null for the keys before any header. */
  path: string[] | null;
  /** True for `[[array.of.tables]]`. */
  array: boolean;
  lines: string[];
}

/** Parses a dotted key (`a."b.c".'d'`) into its parts; null when it is not one. */
export function parseKey(text: string): string[] | null {
  const parts: string[] = [];
  let rest = text.trim();
  while (rest.length > 0) {
    let match: RegExpExecArray | null;
    if ((match = /^[A-Za-z0-9_-]+/.exec(rest))) parts.push(match[0]);
    else if ((match = /^"((?:[^"\\]|\\.)*)"/.exec(rest))) parts.push(JSON.parse(`"${match[1]}"`) as string);
    else if ((match = /^'([^']*)'/.exec(rest))) parts.push(match[1]!);
    else return null;
    rest = rest.slice(match[0].length).trimStart();
    if (rest.length === 0) break;
    if (!rest.startsWith(".")) return null;
    rest = rest.slice(1).trimStart();
  }
  return parts.length > 0 ? parts : null;
}

/** One TOML key as written: bare when it can be, else a basic string. */
export function formatKey(part: string): string {
  return /^[A-Za-z0-9_-]+$/.test(part) ? part : JSON.stringify(part);
}

/** A TOML basic string; JSON's escapes are a subset TOML reads the same way. */
export function tomlString(value: string): string {
  return JSON.stringify(value);
}

/** Splits a file into its sections, each from its header to the line before the next header. */
export function splitSections(text: string): TomlSection[] {
  const sections: TomlSection[] = [{ path: null, array: false, lines: [] }];
  let open: '"""' | "'''" | null = null;
  for (const line of text.split("\n")) {
    if (open === null) {
      const header = /^\s*(\[\[?)\s*([^\]]*?)\s*\]\]?\s*(#.*)?$/.exec(line);
      const path = header ? parseKey(header[2]!) : null;
      if (header && path) sections.push({ path, array: header[1] === "[[", lines: [line] });
      else sections[sections.length - 1]!.lines.push(line);
    } else {
      sections[sections.length - 1]!.lines.push(line);
    }
    open = multilineStateAfter(line, open);
  }
  return sections;
}

/** Whether a multi-line string is still open after `line`. Counts the delimiters outside comments. */
function multilineStateAfter(line: string, open: '"""' | "'''" | null): '"""' | "'''" | null {
  let state = open;
  let i = 0;
  while (i < line.length) {
    if (state === null) {
      if (line[i] === "#") break;
      if (line.startsWith('"""', i) || line.startsWith("'''", i)) {
        state = line.slice(i, i + 3) as '"""' | "'''";
        i += 3;
        continue;
      }
      if (line[i] === '"' || line[i] === "'") {
        // A one-line string: skip to its end so a # or delimiter inside it is not read.
        const quote = line[i]!;
        i++;
        while (i < line.length && line[i] !== quote) i += quote === '"' && line[i] === "\\" ? 2 : 1;
      }
      i++;
    } else {
      if (state === '"""' && line[i] === "\\") {
        i += 2;
        continue;
      }
      if (line.startsWith(state, i)) {
        state = null;
        i += 3;
        continue;
      }
      i++;
    }
  }
  return state;
}

function startsWith(path: string[], prefix: string[]): boolean {
  return prefix.length <= path.length && prefix.every((part, i) => path[i] === part);
}

/** The keys a section defines directly (`name = …`), as key paths relative to the section. */
function keysIn(section: TomlSection): string[][] {
  const keys: string[][] = [];
  let open: '"""' | "'''" | null = null;
  for (const [index, line] of section.lines.entries()) {
    if (open === null && !(index === 0 && section.path)) {
      const assignment = /^\s*([^=#[][^=]*?)\s*=/.exec(line);
      const key = assignment ? parseKey(assignment[1]!) : null;
      if (key) keys.push(key);
    }
    open = multilineStateAfter(line, open);
  }
  return keys;
}

/**
 * `text` with every table under the `owned` paths taken out and `replacement` appended. Throws a
 * UsageError, writing nothing, when an owned table is also defined by a dotted or inline key.
 */
export function replaceTables(text: string, owned: string[][], replacement: string, file: string): string {
  const sections = splitSections(text);
  for (const section of sections) {
    if (section.path && owned.some((prefix) => startsWith(section.path!, prefix))) continue;
    for (const key of keysIn(section)) {
      const full = [...(section.path ?? []), ...key];
      const clash = owned.find((prefix) => startsWith(full, prefix) || startsWith(prefix, full));
      if (clash) {
        throw new UsageError(
          `${file} defines ${clash.map(formatKey).join(".")} with a key (${full.map(formatKey).join(".")} = …) rather than its own [table]: ` +
            `remove that entry by hand and run setup again; nothing was changed`,
        );
      }
    }
  }
  const kept = sections.filter((section) => !(section.path && owned.some((prefix) => startsWith(section.path!, prefix))));
  let body = kept.map((section) => section.lines.join("\n")).join("\n");
  body = body.replace(/\n+$/, "");
  return `${body}${body ? "\n\n" : ""}${replacement.replace(/\n+$/, "")}\n`;
}
