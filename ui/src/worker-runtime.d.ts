// The console type-checks the worker's route code (for `hc<AppType>`) next to lib.dom. lib.dom's
// Web Crypto takes only ArrayBuffer-backed views, the Workers runtime any view; these overloads
// (the Workers signatures, from worker-configuration.d.ts) let the worker's code check here as it
// does in workerd. They describe the worker, never the browser: the console does not call them.
//
// Why this shim stays: `ui/src/client.ts` infers every request and response type from `AppType`,
// and importing it from the worker's source brings that source into this program. A declaration
// build would end that (`tsc --declaration --emitDeclarationOnly` of worker/index.ts emits an
// AppType of about 80 KB in about 13 s), but `tsc --noEmit -p ui` would then need that build to
// run first, in `npm test` and `npm run typecheck` alike: one more generated step for 40 lines.

interface SubtleCrypto {
  encrypt(
    algorithm: string | SubtleCryptoEncryptAlgorithm,
    key: CryptoKey,
    plainText: ArrayBuffer | ArrayBufferView,
  ): Promise<ArrayBuffer>;
  decrypt(
    algorithm: string | SubtleCryptoEncryptAlgorithm,
    key: CryptoKey,
    cipherText: ArrayBuffer | ArrayBufferView,
  ): Promise<ArrayBuffer>;
  sign(
    algorithm: string | SubtleCryptoSignAlgorithm,
    key: CryptoKey,
    data: ArrayBuffer | ArrayBufferView,
  ): Promise<ArrayBuffer>;
  verify(
    algorithm: string | SubtleCryptoSignAlgorithm,
    key: CryptoKey,
    signature: ArrayBuffer | ArrayBufferView,
    data: ArrayBuffer | ArrayBufferView,
  ): Promise<boolean>;
  digest(algorithm: string | SubtleCryptoHashAlgorithm, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer>;
  deriveBits(
    algorithm: string | SubtleCryptoDeriveKeyAlgorithm,
    baseKey: CryptoKey,
    length?: number | null,
  ): Promise<ArrayBuffer>;
  importKey(
    format: string,
    keyData: ArrayBuffer | ArrayBufferView | JsonWebKey,
    algorithm: string | SubtleCryptoImportKeyAlgorithm,
    extractable: boolean,
    keyUsages: string[],
  ): Promise<CryptoKey>;
  timingSafeEqual(a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView): boolean;
}
