/** The group's shared board: set_state and get_state. */
import { MAX_STATE_VALUE_BYTES } from "../../contract/limits.ts";
import { GetStateInput, SetStateInput } from "./inputs.ts";
import { problem, result, settle } from "./render.ts";
import { defineTool, READ_ONLY, RELAY, WRITES } from "./tool.ts";

export const setState = defineTool({
  name: "set_state",
  description: `${RELAY} Set a key on the group's shared board (any JSON up to 16 KiB; null removes the key).`,
  inputSchema: SetStateInput,
  annotations: { ...WRITES, destructiveHint: true, idempotentHint: true },
  observers: false,
  handler: async ({ caller, group }, { key, value }) => {
    const json = JSON.stringify(value ?? null);
    const size = new TextEncoder().encode(json).length;
    if (size > MAX_STATE_VALUE_BYTES) {
      return problem(`value is ${size} bytes of JSON; the limit is ${MAX_STATE_VALUE_BYTES}. Store a summary or a path instead.`, "too_large");
    }
    return settle(await group().setState(caller, key, json), ({ value_json: _, ...entry }) =>
      result(json === "null" ? `Removed ${key}.` : `Set ${key}.`, { ...entry, value }),
    );
  },
});

export const getState = defineTool({
  name: "get_state",
  description: `${RELAY} Read the group's shared board: one key's value, or without key the keys (optionally under prefix) with who set them when.`,
  inputSchema: GetStateInput,
  annotations: READ_ONLY,
  observers: true,
  handler: async ({ caller, group }, { key, prefix }) =>
    settle(await group().getState(caller, key, prefix), (entries) => {
      const shown = entries.map(({ value_json, ...entry }) =>
        value_json === undefined ? entry : { ...entry, value: JSON.parse(value_json) as unknown },
      ) as { key: string; updated_by: string; updated_at: string; value?: unknown }[];
      const first = shown[0];
      if (key !== undefined && first) {
        return result(`${key} = ${JSON.stringify(first.value)} (set by ${first.updated_by} at ${first.updated_at})`, first);
      }
      const lines = shown.map((e) => `${e.key} (set by ${e.updated_by} at ${e.updated_at})`);
      return result(lines.length === 0 ? "No keys." : lines.join("\n"), { keys: shown });
    }),
});
