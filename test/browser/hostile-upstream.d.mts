/** The title the hostile page's script sets when it runs. */
export const TAKEN_OVER: string;
export function startHostileUpstream(): Promise<{ origin: string; hits: () => number; close: () => Promise<void> }>;
