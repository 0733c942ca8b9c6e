// The console type-checks the worker's route code (for `hc<AppType>`) next to lib.dom. Where the
// Workers runtime is wider than the DOM, these overloads let that code check as it does in workerd.
// They describe the worker, never the browser: the console's own code does not call them.

interface SubtleCrypto {
  timingSafeEqual(a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView): boolean;
  deriveBits(algorithm: SubtleCryptoDeriveKeyAlgorithm, baseKey: CryptoKey, length?: number | null): Promise<ArrayBuffer>;
}
