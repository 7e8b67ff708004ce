/**
 * Which client each peer runs: setup says it once (`register` with only `client`), and list_peers
 * shows it from then on, in its text and its structured content, through both lanes. A later
 * register that leaves the client out (a model setting its summary) keeps it; a bad value is
 * refused with a sentence that says what fits.
 */
import { describe, expect, it } from "vitest";
import { freshGroup, LANES, peer } from "./helpers.ts";

describe.each(LANES)("the peer's client (%s lane)", (lane) => {
  it("is set by a register naming only it, kept by later registers, and shown by list_peers", async () => {
    const group = freshGroup();
    const carol = await peer(group, "carol", lane);
    const bob = await peer(group, "bob", lane);
    await carol.call("register", { summary: "porting the parser" });
    expect((await carol.call("register", { client: "codex" })).isError).toBe(false);

    const listed = await bob.call("list_peers");
    expect(listed.data.peers.find((p: { name: string }) => p.name === "carol")).toMatchObject({ client: "codex", summary: "porting the parser" });
    expect(listed.text).toContain("carol [codex]: ");

    await carol.call("register", { summary: "reviewing" });
    const again = await bob.call("list_peers");
    expect(again.data.peers.find((p: { name: string }) => p.name === "carol")).toMatchObject({ client: "codex", summary: "reviewing" });
  });

  it("refuses a client that is not a short word", async () => {
    const carol = await peer(freshGroup(), "carol", lane);
    const refused = await carol.call("register", { client: "Codex CLI <b>" });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain("client must be a short lowercase word such as claude-code, codex or gemini");
  });
});
