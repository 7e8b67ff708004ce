/** Where a webhook may point (worker/group/webhooks/target-rule.ts): the SSRF rule, in Node. */
import { describe, expect, it } from "vitest";
import { isNonPublicHost, webhookTargetProblem } from "../../worker/group/webhooks/target-rule.ts";

const REFUSED_IN_PRODUCTION = [
  "http://hooks.example.com/x",
  "https://localhost/x",
  "https://app.localhost/x",
  "https://127.0.0.1/x",
  "https://127.1.2.3/x",
  "https://2130706433/x", // 127.0.0.1 as one number
  "https://0x7f.0.0.1/x",
  "https://0.0.0.0/x",
  "https://10.1.2.3/x",
  "https://172.16.0.1/x",
  "https://172.31.255.255/x",
  "https://192.168.1.1/x",
  "https://169.254.169.254/latest/meta-data",
  "https://100.64.0.1/x",
  "https://[::1]/x",
  "https://[::]/x",
  "https://[fc00::1]/x",
  "https://[fd12:3456::1]/x",
  "https://[fe80::1]/x",
  "https://[::ffff:127.0.0.1]/x",
  "https://[::ffff:10.0.0.1]/x",
  "https://printer.local/x",
  "https://db.internal/x",
  "https://metadata/x",
  "https://user:pass@hooks.example.com/x",
  "ftp://hooks.example.com/x",
  "not a url",
];

describe("webhook targets", () => {
  it.each(REFUSED_IN_PRODUCTION)("refuses %s on a deployed relay", (url) => {
    expect(webhookTargetProblem(url, false)).toEqual(expect.any(String));
  });

  it.each(["https://hooks.slack.com/services/T/B/x", "https://8.8.8.8/hook", "https://[2606:4700::1111]/x", "https://example.com:8443/x", "https://172.32.0.1/x"])(
    "accepts the public https address %s",
    (url) => {
      expect(webhookTargetProblem(url, false)).toBeNull();
    },
  );

  it("allows plain http to loopback only while the relay runs locally, and never to other private addresses", () => {
    expect(webhookTargetProblem("http://127.0.0.1:9999/hook", true)).toBeNull();
    expect(webhookTargetProblem("http://localhost:9999/hook", true)).toBeNull();
    expect(webhookTargetProblem("http://[::1]:9999/hook", true)).toBeNull();
    expect(webhookTargetProblem("http://127.0.0.1:9999/hook", false)).toMatch(/must be https/);
    expect(webhookTargetProblem("http://hooks.example.com/hook", true)).toMatch(/plain http only to localhost/);
    expect(webhookTargetProblem("https://10.0.0.5/hook", true)).toMatch(/must not point at 10\.0\.0\.5/);
  });

  it("says what to do instead", () => {
    expect(webhookTargetProblem("https://169.254.169.254/", false)).toMatch(/Use a public https address/);
  });

  it("reads hosts as the URL parser writes them", () => {
    expect(isNonPublicHost(new URL("https://0177.0.0.1/").hostname)).toBe(true);
    expect(isNonPublicHost(new URL("https://EXAMPLE.com./").hostname)).toBe(false);
  });
});
