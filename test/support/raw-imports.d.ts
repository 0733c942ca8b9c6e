// Vite's `?raw` suffix imports a file's text (used to read wrangler.toml's configured limits).
declare module "*?raw" {
  const text: string;
  export default text;
}
