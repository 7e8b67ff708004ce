/**
 * The two HTML shells. They hold no data: the script (client/room.ts) fetches the room and draws
 * it with textContent only, so no message text is ever parsed as HTML. Interpolations here go
 * through hono/html, which escapes them.
 */
import { html } from "hono/html";
import { ASSETS } from "./assets.gen.ts";

/**
 * No inline script or style, no eval, nothing from elsewhere; the socket and API are same-origin.
 * No Referer leaves the page, and no other site may frame it.
 */
export const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
};

function shell(title: string, group: string | null, body: ReturnType<typeof html>) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="stylesheet" href="/assets/${ASSETS.css}">
<script type="module" src="/assets/${ASSETS.js}"></script>
</head>
<body data-group="${group ?? ""}">
${body}
</body>
</html>`;
}

const signIn = html`<section id="signin" class="card" aria-labelledby="signin-title">
<h2 id="signin-title">Sign in</h2>
<p>Open the sign-in link your team gave you, or paste your peer token.</p>
<p id="signin-error" class="error" role="alert"></p>
<form id="signin-form">
<label for="token">Peer token</label>
<input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required>
<button type="submit">Sign in</button>
</form>
</section>`;

/** Shown instead of signing in when a link names someone other than who this browser is signed in as. */
const switchPrompt = html`<section id="switch" class="card" role="alertdialog" aria-labelledby="switch-title" aria-describedby="switch-text" hidden>
<h2 id="switch-title">Switch who you are?</h2>
<p id="switch-text"></p>
<div class="row"><button id="switch-stay" type="button"></button><button id="switch-go" type="button"></button></div>
</section>`;

export function signInPage() {
  return shell("Sign in · claude-relay", null, html`<header class="top"><h1>claude-relay</h1></header><main class="signin-main">${switchPrompt}${signIn}</main>`);
}

export function roomPage(group: string) {
  return shell(
    `${group} · claude-relay`,
    group,
    html`<header class="top">
<h1><span class="muted">group</span> ${group}</h1>
<p id="whoami" class="muted"></p>
<div class="top-actions">
<form id="pause-form" hidden><label for="pause-reason">Pause reason</label><input id="pause-reason" maxlength="200" required><button type="submit">Pause the group</button></form>
<button id="resume" type="button" hidden>Resume the group</button>
<button id="signout" type="button" hidden>Sign out</button>
</div>
</header>
<p id="pause-banner" class="banner" role="status" hidden></p>
<p id="connection" class="muted" role="status"></p>
${switchPrompt}
<main id="room" hidden>
<div class="conversation">
<section aria-labelledby="needs-you-title" class="card needs-you" id="needs-you-card" hidden>
<h2 id="needs-you-title">New direct messages for you</h2>
<ol id="needs-you" class="messages" aria-live="polite"></ol>
</section>
<section aria-labelledby="questions-title" class="card" id="questions-card">
<h2 id="questions-title">Questions for you</h2>
<ol id="questions" class="messages" aria-live="polite"></ol>
</section>
<section aria-labelledby="channel-title" class="card">
<h2 id="channel-title">Group channel</h2>
<form id="search-form" role="search"><label for="search">Search messages</label><input id="search" type="search" maxlength="200"><button type="submit">Search</button><button id="search-clear" type="button" hidden>Clear search</button></form>
<div id="channel-scroll" class="scroll" tabindex="0" role="log" aria-label="Group channel messages">
<button id="older" type="button">Load older messages</button>
<ol id="channel" class="messages"></ol>
</div>
</section>
<section aria-labelledby="composer-title" class="card" id="composer-card">
<h2 id="composer-title">Send</h2>
<p id="observer-note" hidden>You are an observer: you see every message, direct ones included, and cannot send.</p>
<form id="composer">
<div class="row"><label for="to">To</label><select id="to"><option value="">Everyone (group channel)</option></select></div>
<label for="message">Message</label>
<textarea id="message" rows="3" required aria-keyshortcuts="Control+Enter"></textarea>
<div class="row"><label class="inline"><input id="urgent" type="checkbox"> Urgent</label>
<label for="tags">Tags</label><input id="tags" placeholder="comma,separated" maxlength="300"></div>
<button type="submit">Send</button>
<p id="composer-status" role="status"></p>
</form>
</section>
<section aria-labelledby="threads-title" class="card">
<h2 id="threads-title">Direct messages</h2>
<div id="threads"></div>
</section>
</div>
<aside class="side">
<section aria-labelledby="peers-title" class="card"><h2 id="peers-title">Peers</h2><ul id="peers" class="peers"></ul></section>
<section aria-labelledby="board-title" class="card"><h2 id="board-title">Board</h2><dl id="board" class="board"></dl>
<p id="board-count" class="muted small"></p><button id="board-more" type="button" hidden>Show more keys</button></section>
<section aria-labelledby="claims-title" class="card"><h2 id="claims-title">Claims</h2><ul id="claims" class="claims" aria-live="polite"></ul><p id="claims-status" class="muted small" role="status"></p></section>
<section aria-labelledby="webhooks-title" class="card" id="webhooks-card" hidden><h2 id="webhooks-title">Webhooks</h2>
<p class="muted small">Post questions (and, if chosen, DMs) for these peers to a chat or a script. See docs/webhooks.md.</p>
<ul id="webhooks" class="peers"></ul>
<form id="webhook-form">
<label for="webhook-url">URL (https)</label><input id="webhook-url" type="url" required maxlength="2000">
<label for="webhook-for">For peers</label><input id="webhook-for" placeholder="comma,separated; empty: everyone" maxlength="2000">
<fieldset><legend>Events</legend><label class="inline"><input type="checkbox" name="event" value="question" checked> questions</label>
<label class="inline"><input type="checkbox" name="event" value="dm"> DMs</label>
<label class="inline"><input type="checkbox" name="event" value="chain_held" checked> chains held</label></fieldset>
<div class="row"><label for="webhook-format">Format</label><select id="webhook-format"><option value="json">json</option><option value="slack">slack</option></select></div>
<button type="submit">Add webhook</button>
<p id="webhook-status" role="status"></p><p id="webhook-secret" class="secret" hidden></p>
</form></section>
</aside>
</main>
<div id="signin-slot" hidden>${signIn}</div>`,
  );
}
