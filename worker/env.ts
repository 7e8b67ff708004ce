import type { GroupObject } from "./group.ts";

/** Bindings and vars from wrangler.toml; every var arrives as a string (or not at all). */
export interface Env {
  GROUPS: DurableObjectNamespace<GroupObject>;
  RELAY_SECRET?: string;
  MAX_MESSAGE_BYTES?: string;
  RETENTION_DAYS?: string;
  RATE_LIMIT_COUNT?: string;
  RATE_LIMIT_WINDOW_SECONDS?: string;
  ALLOWED_HOSTNAMES?: string;
}

export interface Limits {
  maxMessageBytes: number;
  retentionDays: number;
  rateLimitCount: number;
  rateLimitWindowMs: number;
}

function positive(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : fallback;
}

export function limitsFrom(env: Env): Limits {
  return {
    maxMessageBytes: Math.floor(positive(env.MAX_MESSAGE_BYTES, 65_536)),
    retentionDays: positive(env.RETENTION_DAYS, 30),
    rateLimitCount: Math.floor(positive(env.RATE_LIMIT_COUNT, 30)),
    rateLimitWindowMs: positive(env.RATE_LIMIT_WINDOW_SECONDS, 10) * 1000,
  };
}

/** Fixed limits that are part of the tool contract rather than deployment settings. */
export const MAX_TAGS = 8;
export const MAX_TAG_LENGTH = 32;
export const MAX_STATE_VALUE_BYTES = 16 * 1024;
export const MAX_PROFILE_FIELD_LENGTH = 512;
export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 200;
export const READ_DEFAULT_LIMIT = 50;
export const READ_MAX_LIMIT = 200;
export const ASK_DEFAULT_TIMEOUT_S = 120;
export const WAIT_DEFAULT_TIMEOUT_S = 60;
export const MAX_WAIT_TIMEOUT_S = 600;
