// Copies the pinned third-party files the Python side serves or the tests inject:
// Swagger UI (offline /api/docs) and axe-core (accessibility checks in tests/e2e).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const modules = join(here, "..", "node_modules");
const copies = [
  ["swagger-ui-dist/swagger-ui-bundle.js", "src/reelforge/api/swagger/swagger-ui-bundle.js"],
  ["swagger-ui-dist/swagger-ui.css", "src/reelforge/api/swagger/swagger-ui.css"],
  ["swagger-ui-dist/LICENSE", "src/reelforge/api/swagger/LICENSE"],
  ["axe-core/axe.min.js", "tests/e2e/vendor/axe.min.js"],
  ["axe-core/LICENSE", "tests/e2e/vendor/axe-core.LICENSE"],
];
for (const [from, to] of copies) {
  mkdirSync(dirname(join(root, to)), { recursive: true });
  copyFileSync(join(modules, from), join(root, to));
  console.log(`vendored ${to}`);
}
