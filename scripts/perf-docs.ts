/**
 * Writes docs/performance.md from bench/results.json: the run's date and machine, the targets,
 * and each scenario's figures beside the floor's with their ratios, under prose that says what the
 * scenario measures. `npm run bench` calls it after a full run; `npm run bench:docs` runs it alone.
 * The page is never edited by hand: tests/unit/perf-docs.test.ts fails when it differs from what
 * this script makes of the committed results, so the figures cannot go stale.
 *
 *   node scripts/perf-docs.ts            write docs/performance.md
 *   node scripts/perf-docs.ts --check    exit 1 if docs/performance.md is not what it would write
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SCENARIO_PROSE, PAGE_INTRO, REPRODUCE, WHERE_TIME_GOES } from "./perf-docs-prose.ts";

export const RESULTS_PATH = fileURLToPath(new URL("../bench/results.json", import.meta.url));
export const PERFORMANCE_PAGE = fileURLToPath(new URL("../docs/performance.md", import.meta.url));

interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

type Figures = Record<string, unknown>;

/** bench/results.json as bench/run.ts writes it; every scenario may be missing or have failed. */
export interface BenchResults {
  date: string;
  duration_seconds: number;
  machine: Record<string, unknown>;
  relay: { started_with: string; vars: Record<string, string>; note?: string; bridge_dir?: string };
  scenarios: Record<string, Figures & { title: string; error?: string; notes?: string[] }>;
  targets: { target: string; goal: string; measured: string; met: boolean; value: number | null }[];
}

/** One table line: what, the relay's figure, the floor's, and how they compare. */
type Line = [what: string, relay: string, floor?: string, ratio?: string];

const isSummary = (value: unknown): value is Summary => typeof value === "object" && value !== null && "p50" in value && "p99" in value;
const get = (figures: Figures, path: string): unknown =>
  path.split(".").reduce<unknown>((at, key) => (at && typeof at === "object" ? (at as Record<string, unknown>)[key] : undefined), figures);
const summary = (figures: Figures, path: string): Summary | undefined => {
  const value = get(figures, path);
  return isSummary(value) ? value : undefined;
};
const num = (figures: Figures, path: string): number | undefined => {
  const value = get(figures, path);
  return typeof value === "number" ? value : undefined;
};

const ms = (s: Summary | undefined) => (s ? `${s.p50} / ${s.p99} ms` : "-");
const times = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? "-" : `${(a / b).toFixed(2)}x`);
const pair = (a: Summary | undefined, b: Summary | undefined) => (a && b ? `${times(a.p50, b.p50)} / ${times(a.p99, b.p99)}` : "-");
const value = (v: unknown, unit = "") => (v === undefined || v === null ? "-" : `${typeof v === "number" ? v.toLocaleString("en") : String(v)}${unit}`);

/** Latency line: relay against floor, p50 / p99 and their ratios. */
function latencyLine(what: string, figures: Figures, relayPath: string, floorPath?: string): Line {
  const relay = summary(figures, relayPath);
  const floor = floorPath ? summary(figures, floorPath) : undefined;
  return floorPath ? [what, ms(relay), ms(floor), pair(relay, floor)] : [what, ms(relay)];
}

/** What each scenario's table shows, from its figures (see bench/scenarios/<name>.ts). */
const LINES: Record<string, (f: Figures) => Line[]> = {
  floor: (f) => [latencyLine("call (POST -> response)", f, "call"), latencyLine("delivery (POST start -> socket)", f, "delivery")],
  tool_call: (f) => [
    latencyLine("`send_message` call", f, "call", "floor_interleaved.call"),
    latencyLine("`send_message` start -> a listening socket", f, "delivery_to_raw_socket", "floor_interleaved.delivery"),
  ],
  delivery: (f) => [
    latencyLine(`\`send_dm\` start -> ${value(get(f, "measured_to"))}`, f, "delivery", "floor_interleaved.delivery"),
    latencyLine("`send_dm` start -> the recipient's raw socket", f, "delivery_to_raw_socket", "floor_interleaved.delivery"),
    latencyLine("socket -> bridge line (the bridge's own hop)", f, "bridge_hop"),
    latencyLine("`send_dm` call", f, "send_dm_call", "floor_interleaved.call"),
  ],
  fanout: (f) =>
    Object.keys((get(f, "relay") as Figures | undefined) ?? {}).map((size) =>
      latencyLine(`${size} sockets, the last receives`, f, `relay.${size}.last`, `floor.${size}.last`),
    ),
  throughput: (f) => [
    [
      "sustained send rate (10 closed-loop senders)",
      value(num(f, "messages_per_second"), " msg/s"),
      value(num(f, "floor.messages_per_second"), " msg/s"),
      times(num(f, "messages_per_second"), num(f, "floor.messages_per_second")),
    ],
    ["sends accepted", value(num(f, "accepted_sends")), value(num(f, "floor.accepted_sends"))],
    ["notices delivered to the 10 listeners", `${value(num(f, "notices_delivered"))} of ${value(num(f, "notices_expected"))}`],
    ["lost / duplicated notices", `${value(num(f, "lost"))} / ${value(num(f, "duplicated"))}`, `${value(num(f, "floor.lost"))} / ${value(num(f, "floor.duplicated"))}`],
    latencyLine("a send's call under load", f, "call_under_load", "floor.call_under_load"),
    [
      "CPU per message, every process on the machine",
      value(num(f, "cpu_ms_per_message_total"), " ms"),
      value(num(f, "floor.cpu_ms_per_message_total"), " ms"),
      times(num(f, "cpu_ms_per_message_total"), num(f, "floor.cpu_ms_per_message_total")),
    ],
  ],
  wake: (f) => [
    latencyLine(`first message after eviction (-> ${value(get(f, "measured_to"))})`, f, "relay_first_after_eviction", "floor_first_after_eviction"),
    latencyLine("first message after eviction (-> raw socket)", f, "relay_first_after_eviction_to_socket", "floor_first_after_eviction"),
    latencyLine("the message right after it", f, "relay_second_message", "floor_second_message"),
  ],
  context: (f) => [
    ["tools", value(num(f, "tools"))],
    ["`tools/list` result", `${value(num(f, "tools_list_bytes"))} bytes (~${value(num(f, "token_estimate"))} tokens)`],
    ["of which descriptions / input schemas", `${value(num(f, "description_bytes"))} / ${value(num(f, "input_schema_bytes"))} bytes`],
    ...Object.entries((get(f, "bytes_per_tool") as Record<string, number> | undefined) ?? {}).map(([tool, bytes]): Line => [`\`${tool}\``, `${value(bytes)} bytes`]),
  ],
  bundle: (f) => [
    ["worker upload, gzip", value(num(f, "gzip_kib"), " KiB")],
    ["worker upload, raw", value(num(f, "total_kib"), " KiB")],
  ],
  bridge: (f) =>
    (["bundle_", ""] as const).flatMap((k): Line[] => {
      const form = value(get(f, `${k}form`));
      return [
        [`${form}: idle RSS, max over ${value(num(f, `${k}idle_seconds`))} s`, value(num(f, `${k}idle_rss_max_mb`), " MB")],
        [`${form}: idle CPU`, `${value(num(f, `${k}idle_cpu_percent`))}% of a core (${value(num(f, `${k}idle_cpu_ms`))} ms)`],
        [`${form}: CPU per notice, ${value(num(f, `${k}busy_notices`))} notices`, value(num(f, `${k}busy_cpu_ms_per_notice`), " ms")],
      ];
    }),
  hooks: (f) => [
    latencyLine("GET /groups/:group/unread (the relay's share)", f, "unread_call"),
    ...[
      ["hook_bundle", "relay-hook bundle"],
      ["bundle", "relay-bridge bundle"],
      ["ts", "TypeScript CLI"],
    ].flatMap(([key, label]): Line[] =>
      summary(f, `${key}_prompt`)
        ? [
            latencyLine(`${label}: prompt hook, whole process`, f, `${key}_prompt`),
            latencyLine(`${label}: stop hook, whole process`, f, `${key}_stop`),
            latencyLine(`${label}: stop hook, relay down (fails open)`, f, `${key}_relay_down`),
          ]
        : [],
    ),
  ],
  web: (f) => [
    [
      "`send_message` start -> the room page shows it",
      ms(summary(f, "page_shows")),
      `${ms(summary(f, "bridge_socket_same_rounds"))} (bridge socket)`,
      pair(summary(f, "page_shows"), summary(f, "bridge_socket_same_rounds")),
    ],
    latencyLine("room with 200 messages: navigation -> drawn", f, "navigation_to_200_drawn"),
    ["page weight (HTML + JS + CSS), gzip", value(num(f, "page_weight_gzip_bytes"), " bytes")],
  ],
};

/** Figures of a scenario this script has no table for: every number and latency, flattened. */
function genericLines(figures: Figures, prefix = ""): Line[] {
  return Object.entries(figures).flatMap(([key, v]): Line[] => {
    if (key === "title" || key === "notes" || key === "losses") return [];
    if (isSummary(v)) return [[`${prefix}${key}`, ms(v)]];
    if (typeof v === "number" || typeof v === "string") return [[`${prefix}${key}`, value(v)]];
    if (v && typeof v === "object" && !Array.isArray(v)) return genericLines(v as Figures, `${prefix}${key}.`);
    return [];
  });
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** A scenario's table; its second column holds the figure itself (the floor's own, for `floor`). */
function table(lines: Line[], measured: string): string[] {
  const withFloor = lines.some((l) => l[2] !== undefined);
  const withRatio = lines.some((l) => l[3] !== undefined);
  const head = ["", withFloor || measured === "floor" ? measured : "measured", ...(withFloor ? ["floor"] : []), ...(withRatio ? ["relay / floor"] : [])];
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...lines.map((l) => `| ${[l[0], l[1], ...(withFloor ? [l[2] ?? ""] : []), ...(withRatio ? [l[3] ?? ""] : [])].map(cell).join(" | ")} |`),
  ];
}

function runSection(r: BenchResults): string[] {
  const m = r.machine;
  const vars = Object.entries(r.relay.vars ?? {}).map(([k, v]) => `\`${k}=${v}\``).join(", ");
  return [
    "## The run",
    "",
    `- Date: ${r.date} (the whole run took ${r.duration_seconds} s).`,
    `- Machine: ${value(m.cores)} cores (${value(m.cpu_model)}), ${value(m.memory_gib)} GiB, ${value(m.platform)}; Node ${value(m.node)}, wrangler ${value(m.wrangler)}, workerd ${value(m.workerd)}, MCP SDK client ${value(m.mcp_sdk_client)}.`,
    `- Load: load average ${(m.load_average_at_start as number[] | undefined)?.join(" ") ?? "-"} at the start, ${(m.load_average_at_end as number[] | undefined)?.join(" ") ?? "-"} at the end; the machine's CPUs were ${value(m.cpu_busy_percent_during_run)}% busy during the run (the bench's own servers and clients included).`,
    `- Relay: ${r.relay.started_with}${r.relay.bridge_dir ? `, bridge from ${r.relay.bridge_dir}` : ""}${vars ? `, with ${vars}` : ""}.${r.relay.note ? ` ${r.relay.note}` : ""}`,
    "",
  ];
}

function targetsSection(r: BenchResults): string[] {
  return [
    "## Targets",
    "",
    "| target | goal | met | measured |",
    "|---|---|---|---|",
    ...r.targets.map((t) => `| ${[t.target, t.goal, t.value === null ? "not measured" : t.met ? "yes" : "**no**", t.measured].map(cell).join(" | ")} |`),
    "",
  ];
}

function scenarioSection(name: string, s: BenchResults["scenarios"][string]): string[] {
  const out = [`## ${s.title}`, "", `Scenario \`${name}\`. ${SCENARIO_PROSE[name] ?? ""}`.trimEnd(), ""];
  if (s.error) return [...out, `This scenario did not finish in this run: ${s.error}`, ""];
  const lines = (LINES[name] ?? genericLines)(s);
  out.push(...table(lines, name === "floor" ? "floor" : "relay"), "");
  const notes = [...(s.notes ?? [])];
  const losses = Object.entries((s.losses as Record<string, number> | undefined) ?? {});
  if (losses.length > 0) notes.push(`Counted as losses (any above zero fails the run): ${losses.map(([what, n]) => `${what} ${n}`).join(", ")}.`);
  if (notes.length > 0) out.push(...notes.map((n) => `- ${n}`), "");
  return out;
}

export function renderPerformancePage(r: BenchResults): string {
  const ran = Object.keys(r.scenarios);
  const absent = Object.keys(SCENARIO_PROSE).filter((name) => !ran.includes(name));
  const parts = [
    "<!-- Generated by `npm run bench:docs` (scripts/perf-docs.ts) from bench/results.json. Do not edit: tests/unit/perf-docs.test.ts fails when this page differs from what the script generates. -->",
    "",
    "# Performance",
    "",
    ...PAGE_INTRO,
    "",
    ...runSection(r),
    ...targetsSection(r),
    ...ran.flatMap((name) => scenarioSection(name, r.scenarios[name]!)),
  ];
  if (absent.length > 0) {
    parts.push("## Not in this run", "", `These scenarios were not part of the recorded run: ${absent.map((n) => `\`${n}\``).join(", ")}. \`npm run bench\` runs them all.`, "");
    for (const name of absent) parts.push(`- \`${name}\`: ${SCENARIO_PROSE[name]}`);
    parts.push("");
  }
  parts.push(...WHERE_TIME_GOES, ...REPRODUCE);
  return `${parts.join("\n").trimEnd()}\n`;
}

export function readResults(path = RESULTS_PATH): BenchResults {
  return JSON.parse(readFileSync(path, "utf8")) as BenchResults;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const page = renderPerformancePage(readResults());
  if (process.argv.includes("--check")) {
    const current = readFileSync(PERFORMANCE_PAGE, "utf8");
    if (current !== page) {
      process.stderr.write("docs/performance.md is not what bench/results.json generates: run `npm run bench:docs`.\n");
      process.exit(1);
    }
  } else {
    writeFileSync(PERFORMANCE_PAGE, page);
    process.stderr.write(`wrote ${PERFORMANCE_PAGE}\n`);
  }
}
