/**
 * One-click answers, the group's side: what the answer page shows for a question, and the answer
 * itself, sent as the peer asked with reply_to set, so the asker's parked ask_peer wakes with it.
 * Once: a reply from that peer to that question already stored means the link is used up, and a
 * second use changes nothing. The Worker has verified the link's signature and expiry before
 * calling (worker/web/answer-page.ts).
 */
import type { Mail } from "../mail/mail.ts";
import type { MailStore } from "../mail/store.ts";
import type { Peers } from "../peers/peers.ts";
import { type Caller, fail, ok, type Outcome } from "../types.ts";

export interface AnswerPageState {
  question: { id: string; from: string; to: string; text: string; time: string };
  /** The answer already given (through this page or any other way), or null. */
  answer: { from: string; text: string; time: string } | null;
  /** True when this call's answer was refused because one was already given. */
  already_answered?: true;
}

export function answerPageState(store: MailStore, questionId: string, asked: string, asker: string): Outcome<AnswerPageState> {
  const question = store.sentBy(asker, questionId);
  if (!question || question.kind !== "question" || question.to !== asked) {
    return fail("not_found", "This question is no longer in the group (old messages are deleted after the retention period). Answer in the room instead.");
  }
  const reply = store.replyTo(questionId, asked, asker);
  return ok({
    question: { id: question.id, from: question.from, to: asked, text: question.text, time: question.time },
    answer: reply ? { from: reply.from, text: reply.text, time: reply.time } : null,
  });
}

export function answerByLink(
  deps: { mail: Mail; peers: Peers },
  group: string,
  questionId: string,
  asked: string,
  asker: string,
  text: string,
): Outcome<AnswerPageState> {
  const state = answerPageState(deps.mail.store, questionId, asked, asker);
  if (!state.ok) return state;
  if (state.value.answer) return ok({ ...state.value, already_answered: true });
  // The link speaks for the peer asked, as of when the question was asked: a token of theirs
  // revoked since then means the link no longer answers either. Whoever answers on the page is a
  // person: the answer renews the question's chain instead of being charged to it (chains/).
  const caller: Caller = { group, peer: asked, iat: Date.parse(state.value.question.time), person: "link" };
  const revoked = deps.peers.revokedProblem(caller);
  if (revoked) return fail("revoked", `${asked} can no longer answer in this group (their access was revoked).`);
  const sent = deps.mail.send(caller, { kind: "dm", to: asker, text, reply_to: questionId });
  if (!sent.ok) return sent;
  return answerPageState(deps.mail.store, questionId, asked, asker);
}
