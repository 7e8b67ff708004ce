/**
 * Typing into a Claude Code pane, for real: a private tmux server, the stand-in drawing a Claude
 * Code-like screen and recording every byte it receives and every line it submits.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NoticeFrame } from "../../contract/frames.ts";
import { PaneInjector } from "../../local-bridge/pane/injector.ts";
import { renderLine } from "../../local-bridge/core/notices.ts";
import { PaneGoneError } from "../../local-bridge/pane/tmux.ts";
import { TmuxLab, type Standin, type StandinEvent } from "../helpers/tmux-lab.ts";
import { hold, waitFor } from "../helpers/wait.ts";

let lab: TmuxLab;

beforeAll(() => {
  lab = TmuxLab.start();
});

afterAll(() => {
  lab?.kill();
});

/** An injector that records the reasons it waited. */
function injector(standin: Standin) {
  const reasons: (string | null)[] = [];
  const inj = new PaneInjector(lab.tmux, standin.pane, { onWaiting: (r) => reasons.push(r) });
  return { inj, reasons };
}

/** What the bridge's pump does with a line: wait for the pane, then type it. */
async function inject(inj: PaneInjector, line: string): Promise<void> {
  await inj.whenReady();
  await inj.type(line);
}

function dataEvents(standin: Standin) {
  return standin.events().filter((e): e is Extract<StandinEvent, { event: "data" }> => e.event === "data");
}

// The injector waits as long as it must; a failing test should fail fast instead.
describe("PaneInjector", { timeout: 20_000 }, () => {
  it("types one line, then Enter on its own, and sees it submitted", async () => {
    const standin = await lab.standin();
    const { inj } = injector(standin);
    const line = "[relay] 1 new message in core (DM from bob). Call read_new_messages.";
    await inject(inj, line);
    expect(standin.submissions()).toEqual([line]);
    const data = dataEvents(standin).map((e) => e.data);
    // The text arrived without an Enter in it, and the Enter arrived alone.
    expect(data.at(-1)).toBe("\r");
    expect(data.slice(0, -1).join("")).toBe(line);
  });

  it("waits while Claude is busy, types nothing, and lands once it is idle", async () => {
    const standin = await lab.standin({ busy: true });
    const { inj, reasons } = injector(standin);
    let ready = false;
    const landed = inj.whenReady().then(() => {
      ready = true;
      return inj.type("[relay] 1 new message in core (1 from carol). Call read_new_messages.");
    });
    await waitFor(() => reasons.includes("Claude is busy"), { what: "the injector to notice Claude is busy" });
    await hold(800); // several poll rounds
    expect(dataEvents(standin)).toEqual([]);
    expect(ready).toBe(false); // the line is rendered only once it can be typed: later notices merge in
    await standin.set({ busy: false });
    await landed;
    expect(standin.submissions()).toHaveLength(1);
    expect(dataEvents(standin).every((e) => !e.busy)).toBe(true);
  });

  it("waits while a dialog is open: no key reaches it", async () => {
    const standin = await lab.standin({ dialog: true });
    const { inj, reasons } = injector(standin);
    const landed = inject(inj, "[relay] 1 new message in core (DM from bob). Call read_new_messages.");
    await waitFor(() => reasons.includes("a dialog or menu is open"), { what: "the injector to notice the dialog" });
    await hold(800);
    expect(dataEvents(standin)).toEqual([]);
    await standin.set({ dialog: false });
    await landed;
    expect(dataEvents(standin).every((e) => !e.dialog)).toBe(true);
    expect(standin.submissions()).toHaveLength(1);
  });

  it("waits while a person has text in the input box, and lands after they clear it", async () => {
    const standin = await lab.standin();
    standin.typeAsPerson("half a thought");
    await waitFor(() => standin.screen().includes("half a thought"), { what: "the person's text on screen" });
    const { inj, reasons } = injector(standin);
    const line = "[relay] 1 new message in core (DM from bob). Call read_new_messages.";
    const landed = inject(inj, line);
    await waitFor(() => reasons.includes("someone is typing in the input box"), { what: "the injector to see the typing" });
    await hold(800);
    // Only the person's own keystrokes so far.
    expect(dataEvents(standin).map((e) => e.data)).toEqual(["half a thought"]);
    standin.clearInput();
    await landed;
    // Never merged into their text: the only submission is ours, whole.
    expect(standin.submissions()).toEqual([line]);
  });

  it("treats a grey placeholder as an empty box", async () => {
    const standin = await lab.standin({ placeholder: true });
    const { inj } = injector(standin);
    await inject(inj, "[relay] 1 new message in core (1 from carol). Call read_new_messages.");
    expect(standin.submissions()).toHaveLength(1);
  });

  it("leaves copy mode before typing", async () => {
    const standin = await lab.standin();
    lab.tmuxSync(["copy-mode", "-t", standin.pane]);
    expect(lab.tmuxSync(["display-message", "-p", "-t", standin.pane, "#{pane_in_mode}"]).trim()).toBe("1");
    const { inj } = injector(standin);
    const line = "[relay] 1 new message in core (1 from carol). Call read_new_messages.";
    await inject(inj, line);
    expect(standin.submissions()).toEqual([line]);
  });

  it("refuses a line that is not one clean line, typing nothing", async () => {
    const standin = await lab.standin();
    const { inj } = injector(standin);
    await expect(inj.type("[relay] hi\x1b[31m from\nbob\r\x07 $(x)")).rejects.toThrow(/control characters/);
    await hold(300);
    expect(dataEvents(standin)).toEqual([]);
  });

  it("types a rendered notice for a hostile name as the clean line it is", async () => {
    const standin = await lab.standin();
    const { inj } = injector(standin);
    const hostile: NoticeFrame = { type: "notice", seq: 1, id: "m_1", from: "bob\x1b[31m\nIgnore\r\x07 $(x)", kind: "dm", urgent: false };
    const line = renderLine("core", [hostile]);
    await inject(inj, line);
    expect(standin.submissions()).toEqual([line]);
    expect(dataEvents(standin).some((e) => /[\x00-\x0c\x0e-\x1f\x7f]/.test(e.data))).toBe(false);
  });

  it("types a long line whole (chunked), as one submission", async () => {
    const standin = await lab.standin();
    const { inj } = injector(standin);
    const line = `[relay] ${"lorem ipsum ".repeat(100)}end`;
    await inject(inj, line);
    expect(standin.submissions()).toEqual([line.trim()]);
  });

  it("fails with a clear error when the pane is gone", async () => {
    const standin = await lab.standin({ busy: true });
    const { inj } = injector(standin);
    const landed = inject(inj, "[relay] never");
    lab.tmuxSync(["kill-pane", "-t", standin.pane]);
    await expect(landed).rejects.toBeInstanceOf(PaneGoneError);
    await expect(landed).rejects.toThrow(/pane %\d+ is gone/);
  });
});
