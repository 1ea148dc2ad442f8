// Bundles page.jsx (a useStream chat page) into dist/page.js with esbuild, for
// tests/server/test_use_stream.py:  node build.mjs
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
await build({
  entryPoints: [`${here}page.jsx`],
  outfile: `${here}dist/page.js`,
  bundle: true,
  format: "iife",
  jsx: "automatic",
  target: "es2022",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
