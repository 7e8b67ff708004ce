import type { GroupObject } from "./group/object.ts";
import type { RelayVars } from "./group/settings.ts";

/** The Worker's bindings: the group objects, plus the vars and secret in settings.ts. */
export interface Env extends RelayVars {
  GROUPS: DurableObjectNamespace<GroupObject>;
}
