/** Epoch milliseconds. Written as a call, not `Date.now` itself, so fake timers in tests reach it. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
