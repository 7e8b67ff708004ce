/**
 * Every limit the relay enforces, in one place, so the tools, the socket code, the bridge and the
 * README quote the same numbers. Sizes named `_BYTES` are compared against UTF-8 byte lengths,
 * never string lengths.
 *
 * The first group can be changed per deployment through `[vars]` in wrangler.toml (see
 * worker/group/settings.ts); these are their defaults. The rest are part of the tool contract.
 */

// Deployment settings: defaults
export const DEFAULT_MAX_MESSAGE_BYTES = 65_536;
export const DEFAULT_RETENTION_DAYS = 30;
/** Sends (and separately register/set_state calls) one peer may make per window. */
export const DEFAULT_RATE_LIMIT_COUNT = 30;
export const DEFAULT_RATE_LIMIT_WINDOW_SECONDS = 10;
/**
 * Bytes of messages a group may hold (UTF-8 text plus tags; see MailStore.messageBytes). Sends
 * past it are refused until retention deletes old mail. The search index and SQLite's own pages
 * add about a tenth on disk; a Durable Object holds 10 GB.
 */
export const DEFAULT_MAX_GROUP_BYTES = 1024 * 1024 * 1024;
/**
 * Bytes of messages one peer may send per UTC day: about 2,000 long messages, and far below what
 * the send rate alone allows (30 x 64 KiB per 10 s is 15.8 GiB a day).
 */
export const DEFAULT_MAX_PEER_BYTES_PER_DAY = 32 * 1024 * 1024;

// Messages
export const MAX_TAGS = 8;
export const MAX_TAG_LENGTH = 32;
export const MAX_ID_LENGTH = 64;
export const READ_DEFAULT_LIMIT = 50;
export const READ_MAX_LIMIT = 200;
export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 200;
/** get_history's query, in characters. Every length up to it works: the search has no pattern limit. */
export const MAX_QUERY_LENGTH = 200;
/**
 * Characters of message text one get_history search reads at most. A search that reaches it
 * stops and returns next_before, where the next call carries on: a looping search costs the
 * group one bounded read per call, however big the history and however the query is built.
 */
export const SEARCH_SCAN_CHARS = 2 * 1024 * 1024;

// Waiting
export const ASK_DEFAULT_TIMEOUT_S = 120;
export const WAIT_DEFAULT_TIMEOUT_S = 60;
export const MAX_WAIT_TIMEOUT_S = 600;
/** Parked ask_peer / wait_for_messages calls one peer may have at once: each holds a connection open. */
export const MAX_WAITS_PER_PEER = 8;

// Peers and the shared board
export const MAX_PROFILE_FIELD_LENGTH = 512;
export const MAX_STATE_VALUE_BYTES = 16 * 1024;
export const MAX_STATE_KEY_PREFIX_LENGTH = 64;
/** Keys on a group's shared board; a runaway script cannot grow it without bound. */
export const MAX_STATE_KEYS = 1_000;

// Sockets
/** Client frames larger than this are refused without being parsed. */
export const MAX_CLIENT_FRAME_BYTES = 4096;
/** Malformed frames a socket may send before it is closed. */
export const MAX_BAD_FRAMES = 10;
/** A socket with no frame and no keep-alive for this long is treated as gone. */
export const STALE_SOCKET_MS = 90_000;

// HTTP
/** Largest /mcp request body the relay reads. */
export const MAX_MCP_BODY_BYTES = 4 * 1024 * 1024;

// Sockets: what one peer's sockets may cost the group
/** Open sockets one peer may hold (bridges, channel servers, web tabs); more are refused with 429. */
export const MAX_SOCKETS_PER_PEER = 8;
/** New sockets one peer may open per SOCKET_OPEN_WINDOW_MS. */
export const MAX_SOCKET_OPENS_PER_WINDOW = 30;
export const SOCKET_OPEN_WINDOW_MS = 10_000;
/** Frames a socket may send in a burst, and per second after it; past that it is closed. */
export const SOCKET_FRAME_BURST = 50;
export const SOCKET_FRAMES_PER_SECOND = 20;
/** Most notices one replay sends; the rest of the unread mail is found by reading it. */
export const REPLAY_MAX_NOTICES = 1_000;
/** Notices a socket may have unacknowledged; past that it gets no more until it acks. */
export const MAX_UNACKED_NOTICES = 1_000;

// Reads
/**
 * How long mail handed to a client stays out of other reads while the relay waits to learn that
 * the response reached the client. Unconfirmed after this, it is unread again.
 */
export const HANDOVER_LEASE_MS = 15_000;

// Path claims (contract/claim-rules.ts)
/** Characters in one claim pattern. */
export const MAX_CLAIM_PATTERN_LENGTH = 256;
/** Wildcards (`*`, `?`, `[…]`) in one pattern: each makes every overlap check against it costlier. */
export const MAX_CLAIM_WILDCARDS = 12;
/** Patterns one claim_paths / release_paths call may name. */
export const MAX_CLAIM_PATHS = 20;
/** Live claims one peer may hold at once. */
export const MAX_CLAIMS_PER_PEER = 100;
/** Live claims a group holds at most: every new claim is checked against all of them. */
export const MAX_CLAIMS_PER_GROUP = 1_000;
export const DEFAULT_CLAIM_TTL_MINUTES = 60;
/** A claim lasts at most a day; claiming again renews it. */
export const MAX_CLAIM_TTL_MINUTES = 24 * 60;
export const MAX_CLAIM_REASON_LENGTH = 200;
export const MAX_REPO_LENGTH = 200;

// Idempotent sends (worker/group/mail/idempotency.ts)
/** Characters in one idempotency_key. */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 64;
/** How long a send's idempotency_key stands for it: a retry within this returns the first result. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60_000;

// Read receipts and mid-turn mail (contract/receipts.ts)
/** Recipients one message_status answer lists at most (a broadcast in a very large group is cut). */
export const MAX_RECEIPT_RECIPIENTS = 200;
/** Seqs one "announced" report from a hook may name. */
export const MAX_ANNOUNCED_SEQS = 100;
/** Pressing (urgent or question) mail one mid-turn check returns at most. */
export const MAX_PRESSING_MAIL = 20;
