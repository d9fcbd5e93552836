// The portal's hardening headers in a real browser: no other page can frame it
// (Content-Security-Policy `frame-ancestors 'none'`, X-Frame-Options DENY). That the policy
// lets the app, the console and the terminal work is checked by every other flow: their
// `test` fails on any violation (helpers.ts). Runs hydrated and with JavaScript off.
import { expect } from "@playwright/test";
import { ROUTE_LOGIN } from "./ids";
import { test } from "./helpers";

test("no page can frame the portal", async ({ page, baseURL, policyViolations }) => {
  await page.setContent(`<iframe id="framed" src="${baseURL}${ROUTE_LOGIN}"></iframe>`);
  // Chromium says why it refused…
  await expect.poll(() => policyViolations.some((v) => v.includes("frame-ancestors")), { timeout: 10_000 }).toBe(true);
  // …and the frame shows nothing of the portal.
  await expect(page.frameLocator("#framed").getByLabel("Password")).toHaveCount(0);
  // The refusal was the point of this test, not a violation by the portal.
  policyViolations.length = 0;
});
