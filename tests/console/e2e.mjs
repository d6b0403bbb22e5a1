// End-to-end test of the web console in Debian's Chromium, driven by playwright-core.
// Started by crates/nimbus/tests/console.rs against a running region, with:
//   CONSOLE_URL  http://127.0.0.1:PORT/console/
//   USER, PASSWORD, DOMAIN  a member of a project of that account
//   SHOTS        the folder for screenshots of the main pages
// It signs in, launches a server and waits for it ACTIVE with its console log, creates a
// volume (first with a size the API refuses: the message must show next to the field) and
// attaches it, creates a bucket, uploads a file and downloads it again, becomes a named contact and opens a ticket (first without a mandatory field),
// and looks at every page at 1280x800 and on a narrow screen. Exit code 0 only if all held.

import { chromium } from "playwright-core";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const { CONSOLE_URL, USER, PASSWORD, DOMAIN, SHOTS } = process.env;
const BOOT_MS = 300_000;
mkdirSync(SHOTS, { recursive: true });

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
page.on("dialog", (d) => d.accept()); // window.confirm of deletes
// CI machines are slow and busy (two cores, guests under TCG beside the browser).
page.setDefaultTimeout(60_000);
page.on("pageerror", (e) => console.log(`page error: ${e.message}`));
const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const heading = (text) => page.getByRole("heading", { level: 1, name: text });

try {
  // Sign in: a wrong password shows the identity service's message, the right one the dashboard.
  await page.goto(CONSOLE_URL);
  await page.getByLabel("User name").fill(USER);
  await page.getByLabel("Password").fill("wrong-password");
  await page.getByLabel("Account (domain)").fill(DOMAIN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  check((await page.getByRole("alert").textContent()).length > 0, "a wrong password is refused with a message");
  await shot("signin-refused");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await heading("Dashboard").waitFor();
  await page.getByText("Servers", { exact: false }).first().waitFor();
  await page.locator(".gauge").first().waitFor();
  check((await page.locator(".gauge").count()) >= 5, "the dashboard shows the quotas");
  check((await page.getByLabel("Project").inputValue()).length > 0, "a project is chosen in the switcher");
  await shot("dashboard");

  // Servers: the wizard, then the server's page until ACTIVE with its console log.
  await page.getByRole("link", { name: "Servers" }).click();
  await heading("Servers").waitFor();
  await page.getByRole("button", { name: "Create server" }).first().click();
  await page.getByLabel("Name").fill("web1");
  const flavor = page.getByLabel("Flavor");
  await flavor.locator("option", { hasText: "s3.small.1" }).waitFor({ state: "attached" });
  await flavor.selectOption({ label: (await flavor.locator("option", { hasText: "s3.small.1" }).textContent()).trim() });
  await page.getByLabel("Image").selectOption({ label: "nimbus-tiny" });
  await shot("server-wizard");
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByLabel("Network").waitFor();
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByLabel(/User data/).fill("#!/bin/sh\necho hello-from-the-console\n");
  await page.getByRole("dialog").getByRole("button", { name: "Create server" }).click();
  await heading("Server web1").waitFor();
  await page.locator(".status", { hasText: "ACTIVE" }).waitFor({ timeout: BOOT_MS });
  check(true, "the server is ACTIVE");
  const log = page.getByLabel("Console log");
  const until = Date.now() + BOOT_MS;
  while (!(await log.textContent()).includes("nimbus-tiny: ready")) {
    if (Date.now() > until) throw new Error(`the console log never showed the guest ready: ${await log.textContent()}`);
    await page.waitForTimeout(3000);
    await page.getByRole("button", { name: "Refresh the log" }).click();
  }
  check((await log.textContent()).includes("hello-from-the-console"), "the console log shows the guest ran the user data");
  await shot("server");
  await page.getByRole("link", { name: "All servers" }).click();
  await page.getByRole("link", { name: "web1" }).waitFor();
  await shot("servers");

  // Volumes: a size below the data-disk minimum is refused next to the field, nothing made.
  await page.getByRole("link", { name: "Volumes" }).click();
  await heading("Volumes").waitFor();
  await page.getByText("No volumes yet.").waitFor();
  await page.getByRole("button", { name: "Create volume" }).first().click();
  await page.getByLabel("Name").fill("data1");
  await page.getByLabel("Size (GB)").fill("5");
  await page.getByRole("button", { name: "Create volume" }).last().click();
  const sizeField = page.locator(".field-invalid", { has: page.getByLabel("Size (GB)") });
  await sizeField.waitFor();
  const sizeError = await sizeField.locator(".field-error").textContent();
  check(/10|size|GB/i.test(sizeError), `the API's message shows next to the size field: ${sizeError}`);
  await shot("volume-bad-size");
  await page.getByLabel("Size (GB)").fill("10");
  await page.getByLabel("Type").selectOption({ label: "SSD" });
  await page.getByRole("button", { name: "Create volume" }).last().click();
  await page.getByRole("dialog").waitFor({ state: "detached" });
  await page.getByRole("row").filter({ hasText: "data1" }).first().waitFor();
  check((await page.getByRole("row").filter({ hasText: "data1" }).count()) === 1, "one volume was created, not two");
  await page.getByRole("row").filter({ hasText: "data1" }).locator(".status", { hasText: "available" }).waitFor({ timeout: 120_000 });
  await page.getByRole("button", { name: "Attach data1" }).click();
  await page.getByLabel("Server").selectOption({ label: "web1 (ACTIVE)" });
  await page.getByRole("button", { name: "Attach", exact: true }).click();
  await page.getByRole("row").filter({ hasText: "data1" }).locator(".status", { hasText: "in-use" }).waitFor({ timeout: 180_000 });
  check(true, "the volume is attached (in-use)");
  await shot("volumes");

  // Buckets: a name the API refuses (shown next to the field), then a bucket, an upload
  // with its progress bar, and a download that gives back the same bytes.
  await page.getByRole("link", { name: "Buckets" }).click();
  await heading("Buckets").waitFor();
  await page.getByRole("button", { name: "Create bucket" }).first().click();
  await page.getByLabel("Bucket name").fill("Bad_Name");
  await page.getByRole("dialog").getByRole("button", { name: "Create bucket" }).click();
  const nameField = page.locator(".field-invalid", { has: page.getByLabel("Bucket name") });
  await nameField.waitFor();
  check((await nameField.locator(".field-error").textContent()).length > 0, "a bad bucket name is refused next to the field");
  await page.getByLabel("Bucket name").fill(`console-${Date.now()}`);
  await page.getByLabel("Default storage class").selectOption("STANDARD");
  await page.getByRole("dialog").getByRole("button", { name: "Create bucket" }).click();
  await page.getByRole("dialog").waitFor({ state: "detached" });
  await page.getByRole("link", { name: /^console-/ }).click();
  await heading(/^Bucket console-/).waitFor();
  const payload = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) % 251;
  const local = join(SHOTS, "upload.bin");
  writeFileSync(local, payload);
  await page.getByLabel("File to upload").setInputFiles(local);
  await page.getByLabel("Storage class").selectOption("WARM");
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  await page.getByText("Uploaded").waitFor({ timeout: 60_000 });
  const row = page.getByRole("row").filter({ hasText: "upload.bin" });
  await row.waitFor();
  check((await row.textContent()).includes("WARM"), "the object keeps the storage class chosen");
  const [dl] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download upload.bin" }).click()]);
  const got = readFileSync(await dl.path());
  check(got.equals(payload), `the download gives back the ${payload.length} bytes uploaded`);
  await shot("bucket");
  await page.getByRole("link", { name: "All buckets" }).click();
  await page.getByRole("cell", { name: "1", exact: true }).waitFor();
  await shot("buckets");

  // Support: become a named contact, then open a ticket; a missing mandatory field first.
  await page.getByRole("link", { name: "Support" }).click();
  await heading("Support").waitFor();
  await page.getByRole("button", { name: "Add me as a named contact" }).click();
  await page.getByLabel("Last name").fill("Root");
  await page.getByLabel("First name").fill("Ada");
  await page.getByLabel("Position").fill("SRE");
  await page.getByLabel("Email").fill("ada@example.com");
  await page.getByLabel("Phone").fill("+33 1 23 45 67 89");
  await page.getByRole("button", { name: "Add contact" }).click();
  await page.getByRole("cell", { name: "ada@example.com" }).waitFor();
  await page.getByRole("button", { name: "Open ticket" }).first().click();
  await page.getByLabel("Perceived criticality").selectOption("major");
  await page.getByLabel("Subject").fill("Server web1 answers slowly");
  await page.getByLabel("Resource ids").fill("web1");
  const report = {
    "Company": "Acme",
    "Your name": "Ada Root",
    "Your position": "SRE",
    "Your phone": "+33 1 23 45 67 89",
    "Affected user's name": "Ada Root",
    "Affected user's email": "ada@example.com",
    "Service (ECS, EVS, VPC, OBS...)": "ECS",
    "Component": "api",
    "API login used": USER,
    "API URL called": "https://ecs.example/v1",
    "Source IP address": "203.0.113.9",
  };
  for (const [label, value] of Object.entries(report)) await page.getByLabel(label, { exact: true }).fill(value);
  await page.getByLabel("Description").fill("POST /servers takes a minute.");
  await page.getByRole("button", { name: "Open ticket" }).last().click();
  const emailField = page.locator(".field-invalid", { has: page.getByLabel("Your email", { exact: true }) });
  await emailField.waitFor();
  const emailError = await emailField.locator(".field-error").textContent();
  check(emailError.includes("reporter_email"), `the missing field is named next to it: ${emailError}`);
  await shot("ticket-missing-field");
  await page.getByLabel("Your email", { exact: true }).fill("ada@example.com");
  await page.getByRole("button", { name: "Open ticket" }).last().click();
  await page.getByRole("heading", { level: 1, name: /Ticket #\d+: Server web1 answers slowly/ }).waitFor();
  await page.getByText(/response due/i).waitFor();
  check(true, "the ticket is open with its response clock");
  await page.getByLabel("Add a comment").fill("It happens every morning.");
  await page.getByRole("button", { name: "Comment" }).click();
  await page.getByText("It happens every morning.").waitFor();
  await shot("ticket");
  await page.getByRole("link", { name: "All tickets" }).click();
  await page.getByRole("link", { name: /^#\d+$/ }).waitFor();
  await shot("support");

  // Access: a key that is not one is refused next to the field; a real one is imported; an
  // access key's secret is shown once.
  await page.getByRole("link", { name: "Access keys" }).click();
  await heading("Access").waitFor();
  await page.getByRole("button", { name: "Import key pair" }).first().click();
  await page.getByLabel("Key pair name").fill("console-key");
  await page.getByLabel(/Public key/).fill("not-a-key");
  await page.getByRole("dialog").getByRole("button", { name: "Import key pair" }).click();
  const keyField = page.locator(".field-invalid", { has: page.getByLabel(/Public key/) });
  await keyField.waitFor();
  check(true, `a bad public key is refused next to the field: ${await keyField.locator(".field-error").textContent()}`);
  await page.getByLabel(/Public key/).fill(process.env.PUBKEY);
  await page.getByRole("dialog").getByRole("button", { name: "Import key pair" }).click();
  await page.getByRole("cell", { name: "console-key", exact: true }).waitFor();
  await page.getByRole("button", { name: "Create access key" }).click();
  await page.getByText(/it is not shown again/).waitFor();
  await shot("access");

  // Backup vaults (CBR) and a reserved instance.
  await page.getByRole("link", { name: "Backup vaults" }).click();
  await page.getByRole("button", { name: "Create vault" }).first().click();
  await page.getByLabel("Vault name").fill("console-vault");
  await page.getByLabel("Capacity (GB)").fill("100");
  await page.getByRole("dialog").getByRole("button", { name: "Create vault" }).click();
  await page.getByRole("cell", { name: "console-vault", exact: true }).waitFor();
  await shot("cbr");
  await page.getByRole("link", { name: "Billing" }).click();
  await page.getByRole("button", { name: "Reserve an instance" }).click();
  await page.getByRole("dialog").getByLabel("Flavor", { exact: true }).selectOption("s3.small.1");
  await page.getByRole("dialog").getByRole("button", { name: "Reserve" }).click();
  await page.getByRole("row").filter({ hasText: "s3.small.1" }).filter({ hasText: "pending" }).waitFor();
  check(true, "a reserved instance is pending until next month");

  // The other pages render their data.
  await page.getByRole("link", { name: "Networks" }).click();
  await page.getByRole("cell", { name: "admin_external_net" }).waitFor();
  await shot("networks");
  await page.getByRole("link", { name: "Images" }).click();
  await page.getByRole("cell", { name: "nimbus-tiny" }).waitFor();
  await shot("images");
  await page.getByRole("link", { name: "Cloud Trace" }).click();
  await page.getByRole("cell", { name: "createToken" }).first().waitFor();
  await page.getByLabel("Service", { exact: true }).fill("ECS");
  await page.getByRole("button", { name: "Filter" }).click();
  // The unfiltered list shows sign-ins (IAM createToken); the filtered one only ECS's.
  const filtered = Date.now() + 30_000;
  while ((await page.getByRole("cell", { name: "createToken" }).count()) > 0 && Date.now() < filtered) await page.waitForTimeout(200);
  await page.getByRole("cell", { name: "createServer" }).first().waitFor();
  check((await page.getByRole("cell", { name: "createToken" }).count()) === 0, "the trace filter keeps only ECS traces");
  await shot("traces");
  await page.getByRole("link", { name: "Billing" }).click();
  await page.getByRole("img", { name: "Spending per service and month" }).waitFor();
  await page.getByRole("cell", { name: "ecs" }).first().waitFor({ timeout: 60_000 });
  check(true, "the open invoice bills the server");
  await shot("billing");

  // Keyboard: the skip link and the navigation are reachable by Tab.
  await page.reload();
  await heading("Billing").waitFor();
  // The page's own controls are there (the invoices' buttons) before the keyboard goes in.
  await page.getByRole("button", { name: /^Show the invoice of/ }).first().waitFor();
  await page.keyboard.press("Tab");
  check((await page.evaluate(() => document.activeElement?.textContent)) === "Skip to content", "Tab reaches the skip link first");
  await page.keyboard.press("Enter");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.closest("main") !== null);
  check(focused, "the skip link leads the keyboard into the page's content");

  // A narrow screen: the navigation folds behind the menu button.
  await page.setViewportSize({ width: 390, height: 800 });
  check(!(await page.getByRole("link", { name: "Volumes" }).isVisible()), "the navigation is folded on a narrow screen");
  await page.getByRole("button", { name: "Menu" }).click();
  await page.getByRole("link", { name: "Servers" }).click();
  await page.getByRole("link", { name: "web1" }).waitFor();
  await shot("servers-narrow");
  console.log("console e2e: all checks passed");
} catch (e) {
  await shot("failure").catch(() => undefined);
  console.error(e.stack ?? String(e));
  await browser.close();
  process.exit(1);
}
await browser.close();
