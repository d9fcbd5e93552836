// The admin's Nodes page on `proxlab demo`: every node with its Proxmox version, CPU and
// memory bars, its VMs (a link to the dashboard filtered to the node) and its storages; the
// shared storage once. Students and teachers do not get the page.
import { expect } from "@playwright/test";
import { ROUTE_ADMIN_NODES, VM_GRID } from "./ids";
import { demoSignIn, demoUrl, ready, test, trackErrors, shotBoth } from "./helpers";

test("an admin sees each node's capacity and drills down to its VMs", async ({ page }) => {
  const errors = trackErrors(page);
  await demoSignIn(page, "admin");
  await page.getByRole("link", { name: "Nodes", exact: true }).click();
  await page.waitForURL(new RegExp(`${ROUTE_ADMIN_NODES}$`));
  await ready(page);
  // The demo's first full sync may still be under way: the page says so, then fills in.
  const node = page.locator(".node-card.online").first();
  await expect(async () => {
    await page.reload();
    await expect(node).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
  await expect(node).toContainText(/Proxmox\s*VE [89]\./);
  await expect(node.locator("meter")).not.toHaveCount(0);
  await expect(node.locator(".storage-list li").first()).toBeVisible();
  const link = node.locator("a[data-vms]");
  const [running, total] = ((await link.textContent()) ?? "").match(/\d+/g)!.map(Number);
  expect(total).toBeGreaterThan(0);
  expect(running).toBeLessThanOrEqual(total);
  await shotBoth(page, "nodes");

  const name = await node.getAttribute("data-node");
  await link.click();
  await page.waitForURL(/\?cluster=\d+&node=/);
  await ready(page);
  await expect(page.locator(`${VM_GRID} .vm-card`).first()).toBeVisible();
  const nodes = await page.locator(`${VM_GRID} .vm-card .specs dd:nth-of-type(2)`).allTextContents();
  expect(nodes.length).toBeGreaterThan(0);
  for (const n of nodes) expect(n.startsWith(`${name} ·`)).toBe(true);
  expect(errors).toEqual([]);
});

test("a teacher cannot open the Nodes page", async ({ page }) => {
  await demoSignIn(page, "teacher");
  await expect(page.getByRole("link", { name: "Nodes", exact: true })).toHaveCount(0);
  const res = await page.goto(`${demoUrl()}${ROUTE_ADMIN_NODES}`);
  expect(res?.status()).toBe(403);
});

test("the cluster form offers the cluster's Proxmox groups", async ({ page }) => {
  const errors = trackErrors(page);
  await demoSignIn(page, "admin");
  await page.goto(`${demoUrl()}/admin/clusters`);
  await ready(page);
  await page.getByRole("link", { name: "Edit" }).first().click();
  await ready(page);
  // The sync reads the groups with the node versions; the demo's first full sync may be
  // under way.
  await expect(async () => {
    await page.reload();
    await expect(page.locator("#cluster-groups-hint")).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
  const options = await page.locator("#cluster-groups option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  expect(options.length).toBeGreaterThan(0);
  await expect(page.locator('input[name="form[teacher_group]"]')).toHaveAttribute("list", "cluster-groups");
  expect(errors).toEqual([]);
});
