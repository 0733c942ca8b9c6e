import { BaseSequencer, type TestSpecification } from "vitest/node";

const isBrowser = (spec: TestSpecification) => spec.project.name === "browser";
const rank = (spec: TestSpecification) => (spec.moduleId.endsWith("/console.test.ts") ? 0 : 1);

/**
 * The browser test files share one instance (test/browser/global-setup.ts), and console.test.ts lives
 * its first run (setup in the UI): it goes first, the others after it in name order, whatever failed
 * or ran longest last time. The workers project keeps Vitest's own order.
 */
export default class ConsoleFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const browser = sorted.filter(isBrowser).sort((a, b) => rank(a) - rank(b) || a.moduleId.localeCompare(b.moduleId));
    return sorted.map((spec) => (isBrowser(spec) ? browser.shift()! : spec));
  }
}
