/**
 * Look-alike peer names (contract/names.ts): which names share a skeleton, and which stay apart.
 * Plain functions, so plain Node.
 */
import { describe, expect, it } from "vitest";
import { isValidName, LOOK_ALIKE_RULE, lookAlikeOf, nameSkeleton } from "../../contract/names.ts";

describe("nameSkeleton", () => {
  it("reads leading, trailing and inner separators as nothing", () => {
    for (const name of ["alice.", "alice-", "alice_", "alice..", "al-ice", "a.l_i-ce", "alice"]) {
      expect(nameSkeleton(name), name).toBe(nameSkeleton("alice"));
    }
  });

  it("reads digits that pass for letters as those letters", () => {
    expect(nameSkeleton("a1ice")).toBe(nameSkeleton("alice"));
    expect(nameSkeleton("ailce")).toBe(nameSkeleton("alice"));
    expect(nameSkeleton("b0b")).toBe(nameSkeleton("bob"));
    expect(nameSkeleton("3ve")).toBe(nameSkeleton("eve"));
    expect(nameSkeleton("d4na")).toBe(nameSkeleton("dana"));
    expect(nameSkeleton("5am")).toBe(nameSkeleton("sam"));
    expect(nameSkeleton("7om")).toBe(nameSkeleton("tom"));
  });

  it("reads rn as m and vv as w", () => {
    expect(nameSkeleton("rnallory")).toBe(nameSkeleton("mallory"));
    expect(nameSkeleton("vvalter")).toBe(nameSkeleton("walter"));
    expect(nameSkeleton("r-nallory")).toBe(nameSkeleton("mallory"));
  });

  it("keeps names apart that differ in a letter, or in digits that read as no letter", () => {
    expect(nameSkeleton("alice")).not.toBe(nameSkeleton("alicia"));
    expect(nameSkeleton("agent-1")).not.toBe(nameSkeleton("agent-2"));
    expect(nameSkeleton("web2")).not.toBe(nameSkeleton("webz"));
    expect(nameSkeleton("bob8")).not.toBe(nameSkeleton("bobb"));
    expect(nameSkeleton("carol")).not.toBe(nameSkeleton("carl"));
  });

  it("is never empty for a valid name, which starts with a letter or digit", () => {
    for (const name of ["a", "0", "1-", "a.", "9__"]) {
      expect(isValidName(name)).toBe(true);
      expect(nameSkeleton(name).length).toBeGreaterThan(0);
    }
  });
});

describe("lookAlikeOf", () => {
  it("names the known name a new one looks like, never the same name", () => {
    const known = ["bob", "alice", "audit"];
    expect(lookAlikeOf("a1ice", known)).toBe("alice");
    expect(lookAlikeOf("alice.", known)).toBe("alice");
    expect(lookAlikeOf("alice", known)).toBeNull();
    expect(lookAlikeOf("carol", known)).toBeNull();
  });

  it("quotes every pair of the rule", () => {
    for (const pair of ["0/o", "1/l", "i/l", "3/e", "4/a", "5/s", "7/t", "rn/m", "vv/w"]) expect(LOOK_ALIKE_RULE).toContain(pair);
  });
});
