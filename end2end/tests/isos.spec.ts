// The ISO library on `proxlab demo`: an admin sees the ISOs of the demo cluster, has Proxmox
// download one from a URL (a file this test serves on loopback, with its SHA-256), follows
// it to "Done", finds it in the list after a refresh and deletes it; a bad URL is refused
// with a reason. From there the admin builds a Linux VM from an ISO and lands on its
// console. A teacher on a cluster that does not allow teachers sees why; a student does not
// get the page.
import { expect, Locator, Page } from "@playwright/test";
import { createHash } from "node:crypto";
import { createServer, Server } from "node:http";
import { AddressInfo } from "node:net";
import { ROUTE_ISOS } from "./ids";
import { demoSignIn, demoUrl, eventually, jsEnabled, ready, test, trackErrors, shotBoth } from "./helpers";

/** Clicks a form's button and waits for the server function's answer (with JavaScript the
 *  fetch, without it the form's POST). */
async function submit(page: Page, button: Locator, endpoint: string) {
  await Promise.all([
    page.waitForResponse((r) => r.url().includes(endpoint) && r.request().method() === "POST"),
    button.click(),
  ]);
}

/** Serves `body` at /tools.iso on 127.0.0.1; returns the server and its base URL. */
async function serveIso(body: Buffer): Promise<[Server, string]> {
  const server = createServer((req, res) => {
    if (req.url === "/tools.iso") {
      res.writeHead(200, { "Content-Type": "application/x-iso9660-image", "Content-Length": body.length });
      res.end(body);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return [server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`];
}

test("an admin downloads an ISO from a URL, sees it arrive and deletes it", async ({ page }) => {
  test.setTimeout(120_000);
  const errors = trackErrors(page);
  const body = Buffer.alloc(4 * 1024 * 1024, 7);
  const sum = createHash("sha256").update(body).digest("hex");
  const [server, base] = await serveIso(body);
  try {
    await demoSignIn(page, "admin");
    await page.getByRole("link", { name: "ISOs", exact: true }).click();
    await page.waitForURL(new RegExp(`${ROUTE_ISOS}$`));
    await ready(page);
    // The demo's first full sync reads the lists; it may still be under way.
    await eventually(page, async () => {
      await expect(page.locator('tr[data-iso="debian-12.7.0-amd64-netinst.iso"]').first()).toBeVisible({ timeout: 2_000 });
    }, 60_000);

    // Bad input: the reason, and nothing started.
    const transfers = await page.locator(".iso-transfer").count();
    await page.locator("#iso-url").fill("ftp://mirror.example/x.iso");
    await submit(page, page.locator("#iso-download-button"), "/api/isos/download");
    await expect(page.locator(".form-error").first()).toContainText("http:// or https://");
    await page.reload();
    await expect(page.locator(".iso-transfer")).toHaveCount(transfers);

    const name = `tools-${Date.now()}.iso`;
    await page.locator("#iso-target").selectOption({ index: 0 });
    await page.locator("#iso-url").fill(`${base}/tools.iso`);
    await page.locator("#iso-filename").fill(name);
    await page.locator("#iso-checksum").fill(sum);
    await submit(page, page.locator("#iso-download-button"), "/api/isos/download");
    const line = page.locator(`.iso-transfer[data-file="${name}"]`);
    await eventually(page, async () => {
      await expect(line).toHaveAttribute("data-state", "done", { timeout: 2_000 });
    }, 60_000);
    await shotBoth(page, "isos");

    // The ended download asked the sync for the lists again; Refresh does too. The first
    // target is `local` on pve1 (pvesim's nodes share one `local` folder, so the file shows
    // on each node's `local`; a real node's is its own).
    const row = page.locator(`tr[data-iso="${name}"]`, { hasText: "on pve1" });
    await expect(async () => {
      await submit(page, page.locator("#isos-refresh"), "/api/isos/refresh");
      await page.goto(`${demoUrl()}${ROUTE_ISOS}`);
      await expect(row).toBeVisible({ timeout: 2_000 });
    }).toPass({ timeout: 60_000 });
    await expect(row).toContainText("4 MiB");

    await row.locator("summary").click();
    await submit(page, row.locator(`button[data-delete="${name}"]`), "/api/isos/delete");
    await eventually(page, async () => {
      await expect(row).toHaveCount(0, { timeout: 2_000 });
    });
    expect(errors).toEqual([]);
  } finally {
    server.close();
  }
});

test("an admin uploads an ISO from their computer and sees it copied in", async ({ page }) => {
  test.setTimeout(120_000);
  const errors = trackErrors(page);
  await demoSignIn(page, "admin");
  await page.goto(`${demoUrl()}${ROUTE_ISOS}`);
  await ready(page);
  await eventually(page, async () => {
    await expect(page.locator("#iso-upload-form")).toBeVisible({ timeout: 2_000 });
  }, 60_000);
  const name = `upload-${Date.now()}.iso`;
  const body = Buffer.alloc(3 * 1024 * 1024, 9);
  await page.locator("#upload-target").selectOption({ index: 0 });
  await page.locator("#upload-checksum").fill(createHash("sha256").update(body).digest("hex"));
  await page.locator("#upload-file").setInputFiles({ name, mimeType: "application/octet-stream", buffer: body });
  // With JavaScript an XMLHttpRequest with progress, without it the form's own POST; both
  // land on the ISO page with the transfer.
  await submit(page, page.locator("#upload-button"), "/api/isos/upload");
  await page.waitForURL(new RegExp(`${ROUTE_ISOS}$`));
  await ready(page);
  const line = page.locator(`.iso-transfer[data-file="${name}"]`);
  await eventually(page, async () => {
    await expect(line).toHaveAttribute("data-state", "done", { timeout: 2_000 });
  }, 60_000);
  await expect(line).toContainText("Uploaded from a computer");
  const row = page.locator(`tr[data-iso="${name}"]`, { hasText: "on pve1" });
  await expect(async () => {
    await submit(page, page.locator("#isos-refresh"), "/api/isos/refresh");
    await page.goto(`${demoUrl()}${ROUTE_ISOS}`);
    await expect(row).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
  await expect(row).toContainText("3 MiB");

  // The same name again is refused with the reason (Proxmox would overwrite the file).
  await page.locator("#upload-target").selectOption({ index: 0 });
  await page.locator("#upload-file").setInputFiles({ name, mimeType: "application/octet-stream", buffer: body });
  await submit(page, page.locator("#upload-button"), "/api/isos/upload");
  await expect(page.locator(".form-error").first()).toContainText("already on");

  await row.locator("summary").click();
  await submit(page, row.locator(`button[data-delete="${name}"]`), "/api/isos/delete");
  await eventually(page, async () => {
    await expect(row).toHaveCount(0, { timeout: 2_000 });
  });
  expect(errors).toEqual([]);
});

test("an admin builds a VM from an ISO and lands on its console", async ({ page }) => {
  const errors = trackErrors(page);
  await demoSignIn(page, "admin");
  await page.goto(`${demoUrl()}${ROUTE_ISOS}`);
  await ready(page);
  await page.locator("#build-link").click();
  await page.waitForURL(/\/vms\/new$/);
  await ready(page);
  // The lists come from the sync (bridges and ISOs with the first full sync).
  await eventually(page, async () => {
    await expect(page.locator("#build-form")).toBeVisible({ timeout: 2_000 });
  }, 60_000);
  await expect(page.locator("#build-bridge option")).toHaveText([/^vmbr0 \(on /]);
  await shotBoth(page, "build");
  const name = `built-${Date.now() % 100000}`;
  await page.locator("#build-name").fill(name);
  await page.locator("#build-storage").selectOption("local-lvm");
  const debian = await page.locator("#build-iso option", { hasText: "debian-12" }).first().getAttribute("value");
  await page.locator("#build-iso").selectOption(debian!);
  await submit(page, page.locator("#build-button"), "/api/vms/build");
  await page.waitForURL(/\/console\/\d+\/\d+$/, { timeout: 60_000 });
  // noVNC needs JavaScript; without it the landing is what can be checked.
  if (jsEnabled) await expect(page.locator("#console-state")).toHaveText("Connected", { timeout: 15_000 });
  // It is the admin's, on their VMs page.
  const vmid = page.url().split("/").pop();
  await page.goto(`${demoUrl()}/?q=${vmid}`);
  await ready(page);
  const card = page.locator(".vm-card", { hasText: name });
  await expect(card).toBeVisible();

  // Stopped (cores change at once then; a running VM takes them at its next start), its
  // hardware: more cores, the install CD ejected. Each action's answer is awaited before the
  // page is reloaded (a reload would cut the request off), and each check reloads: the page
  // shows what the inventory holds, not what was typed.
  await submit(page, card.locator('button[data-action="stop"]'), "/api/vms/action");
  await expect(async () => {
    await page.reload();
    await expect(card.locator('[data-state="Stopped"]')).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 40_000 });
  await card.locator("a[data-hardware]").click();
  await page.waitForURL(/\/hardware$/);
  await ready(page);
  await expect(page.locator("#hw-cd-now")).toContainText("debian-12");
  await page.locator("#hw-cores").fill("3");
  await submit(page, page.locator("#hw-size-save"), "/api/vms/hardware/size");
  await expect(async () => {
    await page.reload();
    await expect(page.locator("#hw-cores")).toHaveValue("3", { timeout: 2_000 });
  }).toPass({ timeout: 40_000 });
  await page.locator("#hw-cd").selectOption("");
  await submit(page, page.locator("#hw-cd-button"), "/api/vms/hardware/cd");
  await expect(async () => {
    await page.reload();
    await expect(page.locator("#hw-cd-now")).toHaveText("The drive is empty.", { timeout: 2_000 });
  }).toPass({ timeout: 40_000 });
  // A second network card on the node's bridge, then removed.
  await expect(page.locator('li.nic[data-nic="net0"]')).toBeVisible();
  await submit(page, page.locator("#hw-nic-add-button"), "/api/vms/hardware/nic");
  await expect(async () => {
    await page.reload();
    await expect(page.locator('li.nic[data-nic="net1"]')).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 40_000 });
  await shotBoth(page, "hardware");
  await submit(page, page.locator('button[data-remove="net1"]'), "/api/vms/hardware/nic-remove");
  await expect(async () => {
    await page.reload();
    await expect(page.locator('li.nic[data-nic="net1"]')).toHaveCount(0, { timeout: 2_000 });
  }).toPass({ timeout: 40_000 });
  expect(errors).toEqual([]);
});

test("an admin copies a template into a new VM of theirs", async ({ page }) => {
  const errors = trackErrors(page);
  await demoSignIn(page, "admin");
  await page.goto(`${demoUrl()}/vms/new`);
  await ready(page);
  await eventually(page, async () => {
    await expect(page.locator("#copy-template")).toBeVisible({ timeout: 2_000 });
  }, 60_000);
  const name = `copy-${Date.now() % 100000}`;
  await page.locator("#copy-source").selectOption({ index: 0 });
  await page.locator("#copy-name").fill(name);
  await submit(page, page.locator("#copy-button"), "/api/vms/copy-template");
  await page.waitForURL(/\/\?q=\d+$/, { timeout: 60_000 });
  await ready(page);
  const card = page.locator(".vm-card", { hasText: name });
  await expect(card).toBeVisible();
  await expect(card.locator("a[data-hardware]")).toBeVisible();
  expect(errors).toEqual([]);
});

test("a teacher learns why there are no ISOs; a student gets no page", async ({ page }) => {
  await demoSignIn(page, "teacher");
  await page.getByRole("link", { name: "ISOs", exact: true }).click();
  await ready(page);
  await expect(page.locator("#isos-none")).toContainText("teachers on the clusters whose settings allow it");
  await shotBoth(page, "isos-teacher");
  await page.context().clearCookies();
  await demoSignIn(page, "student1");
  await expect(page.getByRole("link", { name: "ISOs", exact: true })).toHaveCount(0);
  const res = await page.goto(`${demoUrl()}${ROUTE_ISOS}`);
  expect(res?.status()).toBe(403);
});
