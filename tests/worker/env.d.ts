// Types for the in-workerd suite: what `env` and `exports` from "cloudflare:workers" hold here,
// and the `cloudflare:test` module the vitest plugin provides.
/// <reference types="@cloudflare/vitest-plugin/types" />

declare namespace Cloudflare {
  type RelayEnv = import("../../worker/env.ts").Env;
  interface Env extends RelayEnv {}
  interface GlobalProps {
    mainModule: typeof import("../../worker/index.ts");
    durableNamespaces: "GroupObject";
  }
}
