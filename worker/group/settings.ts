/**
 * The relay's deployment settings: `[vars]` in wrangler.toml and the RELAY_SECRET secret. Every var
 * arrives as a string, or not at all; a missing or unusable one falls back to its default in
 * contract/limits.ts.
 */
import {
  DEFAULT_CHAIN_BUDGET,
  DEFAULT_GROUP_AGENT_MESSAGES_PER_HOUR,
  DEFAULT_MAX_GROUP_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_PEER_BYTES_PER_DAY,
  DEFAULT_RATE_LIMIT_COUNT,
  DEFAULT_RATE_LIMIT_WINDOW_SECONDS,
  DEFAULT_RETENTION_DAYS,
} from "../../contract/limits.ts";

export interface RelayVars {
  RELAY_SECRET?: string;
  MAX_MESSAGE_BYTES?: string;
  RETENTION_DAYS?: string;
  RATE_LIMIT_COUNT?: string;
  RATE_LIMIT_WINDOW_SECONDS?: string;
  MAX_GROUP_BYTES?: string;
  MAX_PEER_BYTES_PER_DAY?: string;
  ALLOWED_HOSTNAMES?: string;
  CHAIN_BUDGET?: string;
  GROUP_AGENT_MESSAGES_PER_HOUR?: string;
}

export interface Settings {
  maxMessageBytes: number;
  retentionDays: number;
  rateLimitCount: number;
  rateLimitWindowMs: number;
  /** Bytes of messages one group may hold (text plus tags, UTF-8). */
  maxGroupBytes: number;
  /** Bytes of messages one peer may send per UTC day. */
  maxPeerBytesPerDay: number;
  /** Agent messages one chain may carry since a person last spoke in it (docs/chains.md). */
  chainBudget: number;
  /** Agent messages a group may send per hour while no person speaks. */
  groupAgentMessagesPerHour: number;
}

function positive(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : fallback;
}

export function settingsFrom(vars: RelayVars): Settings {
  return {
    maxMessageBytes: Math.floor(positive(vars.MAX_MESSAGE_BYTES, DEFAULT_MAX_MESSAGE_BYTES)),
    retentionDays: positive(vars.RETENTION_DAYS, DEFAULT_RETENTION_DAYS),
    rateLimitCount: Math.floor(positive(vars.RATE_LIMIT_COUNT, DEFAULT_RATE_LIMIT_COUNT)),
    rateLimitWindowMs: positive(vars.RATE_LIMIT_WINDOW_SECONDS, DEFAULT_RATE_LIMIT_WINDOW_SECONDS) * 1000,
    maxGroupBytes: Math.floor(positive(vars.MAX_GROUP_BYTES, DEFAULT_MAX_GROUP_BYTES)),
    maxPeerBytesPerDay: Math.floor(positive(vars.MAX_PEER_BYTES_PER_DAY, DEFAULT_MAX_PEER_BYTES_PER_DAY)),
    chainBudget: Math.floor(positive(vars.CHAIN_BUDGET, DEFAULT_CHAIN_BUDGET)),
    groupAgentMessagesPerHour: Math.floor(positive(vars.GROUP_AGENT_MESSAGES_PER_HOUR, DEFAULT_GROUP_AGENT_MESSAGES_PER_HOUR)),
  };
}
