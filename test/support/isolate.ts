import { projectFactMemory } from "../../worker/orgs/project-facts";
import { memoryCache } from "../../worker/tokens/memory-cache";
import { forgetOldSecretWrites } from "../../worker/tokens/old-secret-use";
import { forgetUsageWrites } from "../../worker/tokens/usage";
import { forgetUsageCounts } from "../../worker/tokens/usage-counts";
import { clearBlockedClients } from "../../worker/verify/throttle";

/**
 * The memory tiers (token entries, project facts), the usage memo and the code-9 block list are module state of the isolate, which
 * every test file's tests share: clear them so each test starts as a fresh isolate would.
 */
export function resetIsolateCaches(): void {
  memoryCache.clear();
  projectFactMemory.clear();
  forgetUsageWrites();
  forgetOldSecretWrites();
  forgetUsageCounts();
  clearBlockedClients();
}
