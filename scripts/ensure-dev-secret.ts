/** Run by `npm start` before `wrangler dev`: a fresh clone needs no manual step to get a secret. */
import { DEV_VARS_PATH, ensureDevSecret } from "./secret.ts";

if (ensureDevSecret()) console.error(`Created a random RELAY_SECRET in ${DEV_VARS_PATH} (git-ignored).`);
