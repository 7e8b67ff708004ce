/**
 * Whether the real Claude Code CLI is installed: tests that need it skip, saying so, where it is not
 * (.ci/run installs it).
 */
import { execFileSync } from "node:child_process";

export function claudeVersion(): string | null {
  try {
    return execFileSync("claude", ["--version"], { encoding: "utf8", timeout: 20_000 }).trim();
  } catch {
    return null;
  }
}
