/**
 * The answer of GET /groups/:group/unread: what a peer has waiting, counted without marking
 * anything read. The relay computes it (worker/unread-summary.ts); Claude Code hooks read it.
 */
export interface UnreadSummary {
  /** Unread messages of every kind (broadcasts included). */
  total: number;
  /** Unread direct messages to this peer (not questions). */
  dms: number;
  /** Unread questions to this peer, oldest first (at most MAX_SUMMARY_NAMES). */
  questions: { id: string; from: string; seq: number }[];
  /** Unread questions in all (may exceed `questions.length`). */
  question_count: number;
  /** Senders of the unread DMs, in order of their first unread DM (at most MAX_SUMMARY_NAMES). */
  dm_from: string[];
  urgent: number;
  /** Highest unread seq, 0 when nothing is unread. */
  highest_seq: number;
  /** Highest unread seq among DMs, questions and urgent mail (what deserves interrupting), or 0. */
  attention_seq: number;
}

/** Names a summary lists at most: a hook's line names a few askers, never a list. */
export const MAX_SUMMARY_NAMES = 5;
