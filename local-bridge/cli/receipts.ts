/**
 * `relay-bridge status ID [--json]`: who has read a message you sent, per recipient "read HH:MM",
 * "announced HH:MM" or "not yet" (times UTC), from the relay's message_status tool.
 */
import { parseArgs } from "node:util";
import { describeReceipt, type MessageStatus } from "../../contract/receipts.ts";
import { targetFrom } from "../core/config.ts";
import { UsageError } from "../core/errors.ts";
import { sanitizeName } from "../core/notices.ts";
import { callTool, EXIT } from "../core/relay-api.ts";

export const STATUS_USAGE = `relay-bridge status ID [--json] [--profile NAME | --url URL --token T]   who has read a message you sent`;

export async function statusCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { url: { type: "string" }, token: { type: "string" }, profile: { type: "string" }, json: { type: "boolean", default: false } },
    });
  } catch (error) {
    throw new UsageError(`status: ${(error as Error).message}\n\n${STATUS_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(`status takes the id of a message you sent (m_...)\n\n${STATUS_USAGE}`);
  const target = targetFrom(values);
  for (const note of target.notes) process.stderr.write(`${note}\n`);
  const { structured } = await callTool<MessageStatus>(target, "message_status", { id: positionals[0] });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(structured)}\n`);
    return EXIT.ok;
  }
  const lines = structured.recipients.map((r) => `${sanitizeName(r.peer)}: ${describeReceipt(r)}`);
  process.stdout.write(`${[`${structured.id}${structured.to ? "" : " (broadcast)"}`, ...(lines.length > 0 ? lines : ["nobody else is in the group"])].join("\n")}\n`);
  return EXIT.ok;
}
