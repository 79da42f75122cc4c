// ESLint for the web app's JavaScript (`make lint`). ESLint and its rule sets are installed by
// `make lint` into .cache/eslint, not beside this file, so they are loaded from there.
import { createRequire } from "node:module";

const require = createRequire(new URL("./.cache/eslint/", import.meta.url));
const js = require("@eslint/js");
const globals = require("globals");

export default [
  js.configs.recommended,
  {
    files: ["src/sightline/web/static/**/*.js"],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module",
      globals: globals.browser,
    },
  },
];
