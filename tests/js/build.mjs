// Bundles the useStream chat pages with esbuild, for tests/server/test_use_stream.py
// (page.jsx -> dist/page.js: @langchain/langgraph-sdk/react 1.x) and
// tests/server/test_use_stream_v1.py (page_v1.jsx -> dist/page_v1.js: @langchain/react v1) and
// tests/server/test_ai_sdk_browser.py (page_ai_sdk.jsx -> dist/page_ai_sdk.js: @ai-sdk/react useChat):
//   node build.mjs
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
for (const page of ["page", "page_v1", "page_ai_sdk"]) {
  await build({
    entryPoints: [`${here}${page}.jsx`],
    outfile: `${here}dist/${page}.js`,
    bundle: true,
    format: "iife",
    jsx: "automatic",
    target: "es2022",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
  });
}
