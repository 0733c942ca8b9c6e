// Builds the console with Vite. Kept as a script so the bundle budget check can sit beside it.
import { bin, run } from "./run.mjs";

process.exit(run(bin("vite"), ["build", "--logLevel", "warn"]));
