/**
 * Debian's Chromium driven by playwright-core (Playwright's own browser download cannot work on
 * these machines). One browser per test file; each person gets their own context (own cookies).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { signToken, type Role } from "../../contract/token.ts";
import { findSecret } from "../../scripts/secret.ts";
import { REPO_ROOT } from "./relay-server.ts";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Git-ignored; screenshots land here for a person to look at after a run. */
export const ARTIFACTS = join(REPO_ROOT, "artifacts");

export function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}

/** A token minted with the relay's own secret (.dev.vars, what `npm start` uses), role included. */
export async function mintAs(group: string, peer: string, role?: Role, extra: { iat?: number; exp?: number } = {}): Promise<string> {
  const secret = findSecret();
  if (!secret) throw new Error("no RELAY_SECRET: npm start should have created .dev.vars");
  return signToken(secret, { g: group, p: peer, iat: extra.iat ?? Date.now(), ...(extra.exp && { exp: extra.exp }), ...(role && { r: role }) });
}

export interface Person {
  context: BrowserContext;
  page: Page;
  /** Every URL the page requested, to prove no token ever travelled in one. */
  requested: string[];
}

/** A fresh browser profile that opens `link` (a sign-in link) and waits for the room to draw. */
export async function signIn(browser: Browser, link: string, viewport = { width: 1200, height: 900 }): Promise<Person> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const requested: string[] = [];
  page.on("request", (request) => requested.push(request.url()));
  await page.goto(link);
  await page.locator("#room").waitFor({ state: "visible", timeout: 15_000 });
  // A locator, not waitForFunction: the page's CSP forbids eval, which a string predicate needs.
  await page.locator("#connection", { hasText: "Live." }).waitFor({ timeout: 15_000 });
  return { context, page, requested };
}

export function linkFor(relayUrl: string, group: string, token: string): string {
  return `${relayUrl}/g/${group}#t=${token}`;
}
