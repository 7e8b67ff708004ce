/**
 * What the rate limit counts: the messages each sender stored within the window. Counting them in
 * SQL on every send walks one index entry per message in the window, so its cost grows with the
 * limit; here each sender's recent send times are kept in memory, read from SQLite the first time
 * the sender sends after the object wakes, and appended as messages are stored. Every message is
 * stored through MailStore.insertMessage, which records it here, so the count is the same as
 * SQL's. A count that reaches the limit is read again from SQLite before a send is refused, so a
 * refusal always rests on what is stored.
 */
export class RecentSends {
  private readonly sql: SqlStorage;
  /** Each sender's send times within the window, oldest first, from `head` on. */
  private readonly bySender = new Map<string, { times: number[]; head: number }>();

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Messages `sender` stored after `since`. */
  count(sender: string, since: number): number {
    const recent = this.of(sender, since);
    while (recent.head < recent.times.length && recent.times[recent.head]! <= since) recent.head++;
    // Drop what has left the window once it is most of the array.
    if (recent.head > 64 && recent.head * 2 > recent.times.length) {
      recent.times = recent.times.slice(recent.head);
      recent.head = 0;
    }
    return recent.times.length - recent.head;
  }

  /** count(), read afresh from SQLite. */
  recount(sender: string, since: number): number {
    this.bySender.delete(sender);
    return this.count(sender, since);
  }

  /** A message from `sender` was stored at `at`. */
  record(sender: string, at: number): void {
    const recent = this.bySender.get(sender);
    // A sender not yet read from SQLite will be, with this message, on its next count.
    if (recent) recent.times.push(at);
  }

  private of(sender: string, since: number): { times: number[]; head: number } {
    let recent = this.bySender.get(sender);
    if (!recent) {
      const times = this.sql
        .exec<{ created_at: number }>(`SELECT created_at FROM messages WHERE sender = ? AND created_at > ? ORDER BY created_at`, sender, since)
        .toArray()
        .map((row) => row.created_at);
      recent = { times, head: 0 };
      this.bySender.set(sender, recent);
    }
    return recent;
  }
}
