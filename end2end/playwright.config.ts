// Playwright in Debian's chromium (no browser download). The README's test command starts a
// fresh proxlab server per run and sets BASE_URL, PROXLAB_E2E_LOG (the server's output, where
// the first-run setup link is printed) and E2E_MODE (`js`: hydrated; `nojs`: JavaScript off,
// so every form must work as plain HTML).
import { defineConfig } from "@playwright/test";

const javaScriptEnabled = (process.env.E2E_MODE ?? "js") !== "nojs";

export default defineConfig({
  testDir: "./tests",
  globalSetup: "./global-setup.ts",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: [["list"], ["json", { outputFile: process.env.E2E_JSON ?? "test-results/results.json" }]],
  use: {
    baseURL: process.env.BASE_URL ?? "http://127.0.0.1:3000",
    javaScriptEnabled,
    trace: "off",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: javaScriptEnabled ? "chromium-js" : "chromium-nojs",
      use: {
        browserName: "chromium",
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          args: [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
});
