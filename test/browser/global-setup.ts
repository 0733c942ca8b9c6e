import type { TestProject } from "vitest/node";
import { CHROMIUM, screenshotDirs, startServer } from "./server.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
    persist: string;
    chromium: string;
    shotDirs: { results: string; docs: string };
  }
}

/** One worker for the whole browser run; its teardown stops the process group and drops the data. */
export default async function setup(project: TestProject) {
  const server = await startServer();
  project.provide("baseUrl", server.url);
  project.provide("persist", server.persist);
  project.provide("chromium", CHROMIUM);
  project.provide("shotDirs", screenshotDirs());
  return server.stop;
}
