/**
 * The one-click answer page: `/answer/<code>`, the link a question's webhook carries. No sign-in:
 * the signed link (group/webhooks/answer-link.ts) is the permission, for one question, until it
 * expires. Server-rendered, no script (the CSP forbids it): a plain form that works anywhere.
 *
 * Cross-site posts are refused three ways: the form carries a token derived from the link (a
 * page elsewhere that has not seen this page cannot make one); a browser's Origin must be this
 * relay (the host guard refuses other origins for every route, and this page checks its own);
 * and Sec-Fetch-Site, where a browser sends it, must be same-origin.
 */
import { type Context, Hono } from "hono";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { base64url, hmacKey } from "../../contract/token.ts";
import type { Env } from "../env.ts";
import { type AnswerClaims, verifyAnswerLink } from "../group/webhooks/answer-link.ts";
import type { AnswerPageState } from "../group/webhooks/answers.ts";
import { INVITE_CSP } from "../invite/page.ts";

export const answerPages = new Hono<{ Bindings: Env }>();

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;
const encoder = new TextEncoder();

async function formToken(secret: string, code: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`answer-form|${code}`))));
}

function layout(title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="same-origin"><title>${title}</title><link rel="stylesheet" href="/invite.css"></head>
<body>${body}</body></html>`;
}

function quoted(text: string): Html {
  return html`<pre>${text}</pre>`;
}

function questionView(state: AnswerPageState, code: string, token: string): Html {
  const q = state.question;
  return layout(
    `${q.from} asks ${q.to}`,
    html`<h1>${q.from} asks ${q.to}</h1>${quoted(q.text)}<p class="note">Asked ${q.time}. Your answer is sent as ${q.to}, once.</p>
<form method="post" action="/answer/${code}"><input type="hidden" name="csrf" value="${token}">
<p><label for="answer">Your answer</label><br><textarea id="answer" name="answer" rows="5" cols="60" required></textarea></p>
<p><button type="submit">Send answer</button></p></form>`,
  );
}

function answeredView(state: AnswerPageState, justNow: boolean): Html {
  const a = state.answer!;
  const head = justNow ? "Answer sent" : "Already answered";
  const note = justNow ? html`<p>${state.question.from} has it now.</p>` : html`<p class="problem">This question was already answered; nothing was changed.</p>`;
  return layout(head, html`<h1>${head}</h1>${note}<p>${state.question.from} asked:</p>${quoted(state.question.text)}<p>${a.from} answered at ${a.time}:</p>${quoted(a.text)}`);
}

function refused(c: Context, status: 400 | 403 | 404 | 410 | 429, title: string, message: string): Response | Promise<Response> {
  return c.html(layout(title, html`<h1>${title}</h1><p class="problem">${message}</p>`), status);
}

function pageHeaders(c: Context): void {
  c.header("Content-Security-Policy", INVITE_CSP);
  c.header("Cache-Control", "no-store");
  c.header("Referrer-Policy", "same-origin");
  c.header("X-Content-Type-Options", "nosniff");
}

function groupOf(env: Env, claims: AnswerClaims) {
  return env.GROUPS.get(env.GROUPS.idFromName(claims.g));
}

answerPages.get("/answer/:code", async (c) => {
  pageHeaders(c);
  const code = c.req.param("code");
  const verdict = await verifyAnswerLink(c.env.RELAY_SECRET!, code);
  if (!verdict.ok) return refused(c, verdict.expired ? 410 : 403, "This answer link cannot be used", verdict.reason);
  const { q, p, a } = verdict.claims;
  const state = await groupOf(c.env, verdict.claims).answerPage(q, p, a);
  if (!state.ok) return refused(c, 404, "This question is gone", state.problem.message);
  if (state.value.answer) return c.html(answeredView(state.value, false));
  return c.html(questionView(state.value, code, await formToken(c.env.RELAY_SECRET!, code)));
});

/** Why this post is not this relay's own form, or null. */
function crossSiteProblem(c: Context): string | null {
  const site = c.req.header("Sec-Fetch-Site");
  if (site !== undefined && site !== "same-origin" && site !== "none") return "This answer was sent from another site, so it was refused. Open the link and answer on its page.";
  const origin = c.req.header("Origin");
  if (origin !== undefined && origin !== new URL(c.req.url).origin) return "This answer came from another origin, so it was refused. Open the link and answer on its page.";
  return null;
}

answerPages.post("/answer/:code", async (c) => {
  pageHeaders(c);
  const code = c.req.param("code");
  const verdict = await verifyAnswerLink(c.env.RELAY_SECRET!, code);
  if (!verdict.ok) return refused(c, verdict.expired ? 410 : 403, "This answer link cannot be used", verdict.reason);
  const crossSite = crossSiteProblem(c);
  if (crossSite) return refused(c, 403, "Answer refused", crossSite);
  const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
  if (typeof form.csrf !== "string" || form.csrf !== (await formToken(c.env.RELAY_SECRET!, code))) {
    return refused(c, 403, "Answer refused", "This form did not come from the answer page. Open the link and answer there.");
  }
  const text = typeof form.answer === "string" ? form.answer.trim() : "";
  const { g, q, p, a } = verdict.claims;
  if (text === "") return refused(c, 400, "Write an answer", "The answer was empty. Go back and write one.");
  const state = await groupOf(c.env, verdict.claims).answerByLink(g, q, p, a, text);
  if (!state.ok) {
    const status = state.problem.code === "not_found" ? 404 : state.problem.code === "rate_limited" ? 429 : state.problem.code === "too_large" || state.problem.code === "invalid_input" ? 400 : 403;
    return refused(c, status, "The answer was not sent", state.problem.message);
  }
  return c.html(answeredView(state.value, state.value.already_answered !== true));
});
