/**
 * The invite page's HTML: server-rendered, every value escaped by hono/html, no script at all (the
 * CSP forbids it), one stylesheet from the relay itself. Three views: the name form, the result
 * (token shown once, the commands to run), and a refusal that says what to do.
 */
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { NAME_RULE } from "../../contract/names.ts";

export const INVITE_CSS = `
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}code,pre{font:14px/1.4 ui-monospace,monospace}
pre{background:#f4f4f4;padding:.75rem;white-space:pre-wrap;word-break:break-all;border-radius:4px}
.problem{background:#fff3f3;border-left:4px solid #c33;padding:.5rem .75rem}
.note{color:#555;font-size:.9rem}input{font:inherit;padding:.25rem .5rem}button{font:inherit;padding:.25rem 1rem}
`;

/** Served with every page: no script, no inline style, forms only to this relay, never framed. */
export const INVITE_CSP =
  "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

function layout(title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="same-origin"><title>${title}</title><link rel="stylesheet" href="/invite.css"></head>
<body>${body}</body></html>`;
}

/** Says what the verify line does, and its spelling where sha256sum is missing (macOS). */
const VERIFY_NOTE = html`<p class="note">The second line checks the download against the SHA-256 of the bridge this relay serves (also at <code>/bridge.mjs.sha256</code>) and prints <code>OK</code>; if it says <code>FAILED</code>, delete the file and ask your team. On macOS, use <code>shasum -a 256 -c</code> in place of <code>sha256sum -c</code>.</p>`;

export function formPage(group: string, observer: boolean, terminal: { install: string; verify: string; join: string }, problem?: string, name = ""): Html {
  return layout(
    `Join ${group}`,
    html`<h1>Join the relay group <code>${group}</code>${observer ? " as an observer" : ""}</h1>
${problem ? html`<p class="problem">${problem}</p>` : ""}
<form method="post">
<p><label>Your peer name: <input name="name" value="${name}" required maxlength="64" pattern="[a-z0-9][a-z0-9._\\-]{0,63}" autocomplete="off" autofocus></label>
<button type="submit">Join</button></p>
<p class="note">The name others in the group see: ${NAME_RULE}. Usually your first name, or what this session works on.</p>
</form>
<p class="note">Or from a terminal, without a browser (Node 20 or newer):</p>
<pre>${terminal.install}
${terminal.verify}
~/.local/bin/relay-bridge join ${terminal.join} --name &lt;your name&gt;</pre>
${VERIFY_NOTE}`,
  );
}

export interface Joined {
  group: string;
  peer: string;
  observer: boolean;
  token: string;
  mcpAdd: string;
  install: string;
  /** Checks the download against the served bridge's SHA-256. */
  verify: string;
  sha256: string;
  setup: string;
}

export function joinedPage(j: Joined): Html {
  return layout(
    `Joined ${j.group}`,
    html`<h1>You are <code>${j.peer}</code> in <code>${j.group}</code>${j.observer ? " (observer: you can read, not send)" : ""}</h1>
<p class="problem">This page shows your token once. Run the commands now, or keep the token somewhere safe: it is who you are on the relay.</p>
<h2>1. Install the bridge and set everything up</h2>
<p>In a terminal inside tmux, with Claude Code running in another pane of the same tmux (Node 20 or newer):</p>
<pre>${j.install}
${j.verify}
${j.setup}</pre>
${VERIFY_NOTE}
<p class="note">It saves the relay, group, name and token in <code>~/.config/claude-relay/config.json</code> (mode 0600), registers the relay's tools with Claude Code in that pane's project, and opens a sidebar with the conversation and the bridge's status. Then restart Claude Code there: quit it and run <code>claude --continue</code>, or <code>claude</code> if it had no conversation yet (a running session does not load a newly added server).</p>
<h2>2. Or only register the relay with Claude Code</h2>
<p>In your project directory:</p>
<pre>${j.mcpAdd}</pre>
<h2>Your token</h2>
<pre>${j.token}</pre>`,
  );
}

export function refusedPage(title: string, message: string): Html {
  return layout(title, html`<h1>${title}</h1><p class="problem">${message}</p>`);
}
