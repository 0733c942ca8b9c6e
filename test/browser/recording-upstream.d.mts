export interface Received {
  method: string;
  /** The request line's path, without the query. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
}
export function startRecordingUpstream(): Promise<{ origin: string; received: Received[]; close: () => Promise<void> }>;
