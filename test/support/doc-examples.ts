import doc from "../../docs/INTEGRATION.md?raw";

/**
 * The fenced block right after `<!-- example: <name> -->` in docs/INTEGRATION.md, so tests run the
 * documentation's examples as written and a doc edit that breaks one fails the suite.
 */
export function docExample(name: string): string {
  const marker = `<!-- example: ${name} -->`;
  const at = doc.indexOf(marker);
  if (at === -1) throw new Error(`docs/INTEGRATION.md has no example named ${name}`);
  const match = /```[^\n]*\n([\s\S]*?)\n```/.exec(doc.slice(at + marker.length));
  if (!match) throw new Error(`the example ${name} in docs/INTEGRATION.md has no fenced block`);
  return match[1]!;
}
