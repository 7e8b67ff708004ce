/**
 * How a person runs this very relay-bridge again, for the next step the CLI prints. A person may have it only as a downloaded file
 * in a directory that is not on PATH (`~/.local/bin` often is not), so a printed `relay-bridge …`
 * is only right when that name really finds this file.
 */
import { accessSync, constants, realpathSync } from "node:fs";
import { delimiter, join } from "node:path";
import { shellLine } from "../core/shell.ts";

/** The file `name` runs from PATH, resolved, or null. */
function onPath(name: string, path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return realpathSync(candidate);
    } catch {
      // Not here.
    }
  }
  return null;
}

/**
 * What a person types to run this relay-bridge with `args`: `relay-bridge …` when that name on PATH
 * is this file, else the file's full path (or node and the path, for a script that is not executable).
 */
export function commandToType(args: string[], script = process.argv[1] ?? "", path = process.env.PATH): string {
  const self = realpathSync(script);
  if (onPath("relay-bridge", path) === self) return shellLine(["relay-bridge", ...args]);
  let executable = !self.endsWith(".ts");
  try {
    accessSync(self, constants.X_OK);
  } catch {
    executable = false;
  }
  return shellLine([...(executable ? [self] : [process.execPath, self]), ...args]);
}
