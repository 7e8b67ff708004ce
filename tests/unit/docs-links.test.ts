/**
 * The README hands a newcomer over to docs/: every relative link in it and in docs/*.md must reach
 * a file that exists, and a link to a heading (`file.md#anchor`) a heading that exists, with
 * anchors spelled as GitHub spells them.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const pages = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => join("docs", f))];

/** Markdown outside fenced code blocks and inline code, where links are links. */
function prose(markdown: string): string {
  return markdown.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchorsOf(path: string): Set<string> {
  const headings = readFileSync(path, "utf8").replace(/```[\s\S]*?```/g, "").match(/^#{1,6} .*$/gm) ?? [];
  return new Set(headings.map((h) => anchor(h.replace(/^#+ /, ""))));
}

describe("links in the README and docs/", () => {
  it("the README links to the docs pages", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    for (const page of ["tools", "delivery", "people-and-invites", "cli", "deploy", "security", "performance", "troubleshooting", "architecture"]) {
      expect(readme).toContain(`(docs/${page}.md`);
    }
  });

  for (const page of pages) {
    it(`${page}: every relative link reaches a file and heading that exist`, () => {
      const broken: string[] = [];
      for (const [, target] of prose(readFileSync(join(ROOT, page), "utf8")).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [file, hash] = target!.split("#") as [string, string | undefined];
        const path = file === "" ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), file);
        if (!existsSync(path)) broken.push(`${target}: no such file`);
        else if (hash !== undefined && path.endsWith(".md") && !anchorsOf(path).has(hash)) broken.push(`${target}: no such heading`);
      }
      expect(broken).toEqual([]);
    });
  }
});
