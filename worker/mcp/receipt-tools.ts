/** message_status: who has read a message you sent (read receipts, group/receipts/receipts.ts). */
import { describeReceipt, type MessageStatus } from "../../contract/receipts.ts";
import { MessageStatusInput } from "../group/receipts/schemas.ts";
import { result, settle } from "./render.ts";
import { defineTool, READ_ONLY, RELAY } from "./tool.ts";

/** `bob: read 10:42`, or for a broadcast `read by alice 10:42, bob 10:43; announced to carol 10:40; not yet: dave`. */
export function renderStatus(status: MessageStatus): string {
  if (status.to !== undefined) {
    const receipt = status.recipients[0];
    return `${status.id} to ${status.to}: ${receipt ? describeReceipt(receipt) : "not yet"}.`;
  }
  const by = (state: string) => status.recipients.filter((r) => r.state === state);
  const timed = (list: typeof status.recipients) => list.map((r) => `${r.peer}${r.at ? ` ${r.at.slice(11, 16)}` : ""}`).join(", ");
  const parts: string[] = [];
  const read = by("read");
  const announced = by("announced");
  const waiting = by("not_yet");
  if (read.length > 0) parts.push(`read by ${timed(read)}`);
  if (announced.length > 0) parts.push(`announced to ${timed(announced)}`);
  if (waiting.length > 0) parts.push(`not yet: ${waiting.map((r) => r.peer).join(", ")}`);
  if (parts.length === 0) parts.push("nobody else is in the group");
  return `${status.id} (broadcast, ${read.length} of ${status.recipients.length} read): ${parts.join("; ")}.`;
}

export const messageStatus = defineTool({
  name: "message_status",
  description: `${RELAY} Who has read a message you sent: per recipient "read HH:MM" (handed to their model), "announced HH:MM" (their session was told) or "not yet" (times UTC). For a broadcast, who has read it.`,
  inputSchema: MessageStatusInput,
  annotations: READ_ONLY,
  observers: true,
  handler: async ({ caller, group }, { id }) =>
    settle(await group().messageStatus(caller, id), (status) =>
      result(renderStatus(status), {
        id: status.id,
        ...(status.to !== undefined && { to: status.to }),
        recipients: status.recipients.map((r) => ({ peer: r.peer, state: r.state, ...(r.at && { at: r.at }) })),
      }),
    ),
});
