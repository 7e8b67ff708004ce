/** The relay's hooks: the `relay-bridge hook <name>` argument and the Claude Code event it serves. */
export const HOOK_EVENTS = { "session-start": "SessionStart", prompt: "UserPromptSubmit", stop: "Stop", tool: "PostToolUse" } as const;
export type HookName = keyof typeof HOOK_EVENTS;
