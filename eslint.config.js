// ESLint for the web page (frontend/) and its unit tests (tests/js/). `npx eslint frontend tests/js eslint.config.js`
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    ignores: ["node_modules/", ".venv*/", "var/"],
  },
  js.configs.recommended,
  {
    rules: {
      eqeqeq: ["error", "always"],
      "no-var": "error",
      "prefer-const": "error",
      "no-use-before-define": ["error", { functions: false, classes: true, variables: true }],
      "no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // The page's modules run in the browser.
    files: ["frontend/js/**/*.js"],
    languageOptions: { sourceType: "module", globals: { ...globals.browser } },
  },
  {
    // Classic scripts: config.js sets window.API_BASE before the modules run; opened-from-disk.js runs where
    // modules cannot.
    files: ["frontend/config.js", "frontend/js/opened-from-disk.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.browser } },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { sourceType: "module", globals: { ...globals.node } },
  },
];
