/**
 * docs/performance.md is generated from bench/results.json by scripts/perf-docs.ts. A page edited
 * by hand, or results regenerated without the page, fails here: run `npm run bench:docs`.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PERFORMANCE_PAGE, readResults, renderPerformancePage } from "../../scripts/perf-docs.ts";

describe("the performance page", () => {
  it("is exactly what the generator makes of the committed bench/results.json", () => {
    const generated = renderPerformancePage(readResults());
    expect(readFileSync(PERFORMANCE_PAGE, "utf8")).toBe(generated);
  });

  it("shows the run's date and every scenario's title from the results", () => {
    const results = readResults();
    const page = renderPerformancePage(results);
    expect(page).toContain(results.date);
    for (const scenario of Object.values(results.scenarios)) expect(page).toContain(`## ${scenario.title}`);
  });
});
