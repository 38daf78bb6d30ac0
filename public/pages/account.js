// The hosted account page (GET /account), drawn from the JSON API with this tab's tokens. Steps the API
// guards with recent authentication (403 reauthentication_required) ask for a credential in place
// (POST /auth/reauthenticate) and then run again.
import {
  $,
  ApiError,
  api,
  busy,
  clearTokens,
  fail,
  loadTokens,
  passkeysSupported,
  say,
  webauthn,
} from "./common.js";

const authed = (path, options = {}) => api(path, { ...options, auth: true });

// --- recent authentication, asked in place -------------------------------------------------------
let pendingReauth = null;

function askReauth() {
  const section = $("reauth");
  section.hidden = false;
  $("reauth-heading").focus();
  pendingReauth ??= new Promise((resolve, reject) => {
    const done = (ok, err) => {
      section.hidden = true;
      pendingReauth = null;
      $("reauth-password").value = "";
      $("reauth-code").value = "";
      if (ok) resolve();
      else reject(err);
    };
    const attempt = (form, body) =>
      busy(form, async () => {
        await authed("/auth/reauthenticate", { method: "POST", body: await body() });
        done(true);
      }).catch(fail);
    $("reauth-password-form").onsubmit = (e) => {
      e.preventDefault();
      attempt(e.target, async () => ({ password: $("reauth-password").value }));
    };
    $("reauth-code-form").onsubmit = (e) => {
      e.preventDefault();
      attempt(e.target, async () => ({ code: $("reauth-code").value.trim() }));
    };
    $("reauth-passkey").onclick = () =>
      attempt(section, async () => {
        const optionsJSON = await api("/auth/passkeys/login/options", { method: "POST", body: {} });
        return { passkey: await webauthn().startAuthentication({ optionsJSON }) };
      });
    $("reauth-cancel").onclick = () => done(false, new Error("Cancelled."));
  });
  return pendingReauth;
}

/** Runs `fn`; when the API wants a recent sign-in, asks for one here and runs it once more. */
async function recent(fn) {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== "reauthentication_required") throw err;
    say("Confirm it is you to continue.");
    await askReauth();
    return fn();
  }
}

function onSubmit(form, handler) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, () => handler(event)).catch(fail);
  });
}

function onClick(button, handler) {
  button.addEventListener("click", () => {
    button.disabled = true;
    Promise.resolve()
      .then(handler)
      .catch(fail)
      .finally(() => {
        button.disabled = false;
      });
  });
}

function signedOut(message) {
  clearTokens();
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
  if (message) say(message);
}

const el = (tag, text) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  return node;
};
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "never");

// --- profile ---------------------------------------------------------------------------------------
let me = null;

async function loadProfile() {
  me = await authed("/auth/me");
  $("profile-email").textContent = me.email;
  $("profile-verified").textContent = me.is_verified ? "(verified)" : "(not verified)";
  $("profile-name").value = me.full_name ?? "";
  $("profile-username").value = me.username ?? "";
  drawTwoFactor();
  drawProviders();
}

const PROVIDER_LABELS = { google: "Google", facebook: "Facebook" };

/** Google/Facebook links, each with a way to remove it (the API refuses to remove the last way in). */
function drawProviders() {
  const linked = (me.providers ?? []).filter((p) => p in PROVIDER_LABELS);
  $("providers").hidden = linked.length === 0;
  $("providers-list").replaceChildren(
    ...linked.map((provider) => {
      const li = el("li", `${PROVIDER_LABELS[provider]} `);
      const button = el("button", `Unlink ${PROVIDER_LABELS[provider]}`);
      button.type = "button";
      button.className = "secondary";
      onClick(button, async () => {
        await recent(() => authed(`/auth/providers/${provider}`, { method: "DELETE" }));
        say(`${PROVIDER_LABELS[provider]} is no longer linked.`);
        await loadProfile();
      });
      li.append(button);
      return li;
    }),
  );
}

onSubmit($("profile-form"), async () => {
  const body = { full_name: $("profile-name").value.trim() };
  const username = $("profile-username").value.trim();
  if (username) body.username = username;
  me = await authed("/auth/me", { method: "PATCH", body });
  say("Profile saved.");
});

// --- sessions --------------------------------------------------------------------------------------
async function loadSessions() {
  const { items } = await authed("/auth/sessions");
  const list = $("sessions-list");
  list.replaceChildren(
    ...items.map((s) => {
      const li = el("li");
      const where = [s.user_agent || "Unknown device", s.ip].filter(Boolean).join(" · ");
      li.append(el("span", `${where} — last used ${when(s.last_used_at)}${s.current ? " (this tab)" : ""} `));
      if (!s.current) {
        const button = el("button", "Sign out this session");
        button.type = "button";
        button.className = "secondary";
        // The visible text starts the accessible name (WCAG 2.5.3), the device tells the buttons apart.
        button.setAttribute("aria-label", `Sign out this session (${where})`);
        onClick(button, async () => {
          await authed(`/auth/sessions/${encodeURIComponent(s.id)}`, { method: "DELETE" });
          say("Session signed out.");
          await loadSessions();
        });
        li.append(button);
      }
      return li;
    }),
  );
}

onClick($("sign-out"), async () => {
  const tokens = loadTokens();
  await authed("/auth/logout", { method: "POST", body: { refresh_token: tokens?.refresh_token } });
  signedOut("Signed out.");
});

onClick($("sign-out-all"), async () => {
  await authed("/auth/logout/all", { method: "POST" });
  signedOut("Signed out everywhere.");
});

// --- two-factor authentication ---------------------------------------------------------------------
function drawTwoFactor() {
  const on = Boolean(me?.two_factor_enabled);
  $("twofactor-state").textContent = on
    ? "Two-factor authentication is on."
    : "Two-factor authentication is off.";
  $("twofactor-setup").hidden = on;
  $("twofactor-manage-form").hidden = !on;
  if (on) $("twofactor-enroll").hidden = true;
}

function showRecoveryCodes(codes) {
  $("recovery-list").replaceChildren(...codes.map((c) => el("li", c)));
  $("recovery-codes").hidden = false;
  $("recovery-heading").focus();
}

onClick($("twofactor-setup"), async () => {
  const setup = await recent(() => authed("/auth/2fa/setup", { method: "POST" }));
  // An <img> of the SVG, not inserted markup: nothing in it can run, whatever it contains.
  $("twofactor-qr").src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qr_svg)}`;
  $("twofactor-secret").textContent = setup.secret;
  $("twofactor-enroll").hidden = false;
  $("twofactor-enable-code").focus();
});

onSubmit($("twofactor-enable-form"), async () => {
  const code = $("twofactor-enable-code").value.trim();
  const { recovery_codes } = await recent(() =>
    authed("/auth/2fa/enable", { method: "POST", body: { code } }),
  );
  $("twofactor-enable-code").value = "";
  me = { ...me, two_factor_enabled: true };
  drawTwoFactor();
  showRecoveryCodes(recovery_codes);
  say("Two-factor authentication is on. Your other sessions were signed out.");
  await loadSessions();
});

onSubmit($("twofactor-manage-form"), async (event) => {
  const code = $("twofactor-manage-code").value.trim();
  const action = event.submitter?.value;
  if (action === "regenerate") {
    const { recovery_codes } = await recent(() =>
      authed("/auth/2fa/recovery-codes", { method: "POST", body: { code } }),
    );
    showRecoveryCodes(recovery_codes);
    say("New recovery codes: the old ones no longer work.");
  } else {
    me = await recent(() => authed("/auth/2fa/disable", { method: "POST", body: { code } }));
    $("recovery-codes").hidden = true;
    drawTwoFactor();
    say("Two-factor authentication is off.");
  }
  $("twofactor-manage-code").value = "";
});

// --- passkeys --------------------------------------------------------------------------------------
async function loadPasskeys() {
  const { items } = await authed("/auth/passkeys");
  $("passkeys-list").replaceChildren(
    ...items.map((p) => {
      const li = el("li");
      li.append(el("span", `${p.name} — added ${when(p.created_at)}, last used ${when(p.last_used_at)} `));
      const rename = el("form");
      const id = `rename-${p.id}`;
      const label = el("label", `New name for ${p.name}`);
      label.htmlFor = id;
      const input = el("input");
      input.id = id;
      input.maxLength = 64;
      input.value = p.name;
      const save = el("button", "Rename");
      save.type = "submit";
      save.className = "secondary";
      rename.append(label, input, save);
      onSubmit(rename, async () => {
        await authed(`/auth/passkeys/${encodeURIComponent(p.id)}`, {
          method: "PATCH",
          body: { name: input.value.trim() },
        });
        say("Passkey renamed.");
        await loadPasskeys();
      });
      const remove = el("button", `Remove ${p.name}`);
      remove.type = "button";
      remove.className = "secondary";
      onClick(remove, async () => {
        await recent(() => authed(`/auth/passkeys/${encodeURIComponent(p.id)}`, { method: "DELETE" }));
        say("Passkey removed.");
        await loadPasskeys();
      });
      li.append(rename, remove);
      return li;
    }),
  );
}

onSubmit($("passkey-add-form"), async () => {
  if (!passkeysSupported()) throw new Error("Passkeys are not available in this browser.");
  const optionsJSON = await recent(() => authed("/auth/passkeys/register/options", { method: "POST" }));
  const response = await webauthn().startRegistration({ optionsJSON });
  const name = $("passkey-name").value.trim();
  await authed("/auth/passkeys/register", {
    method: "POST",
    body: name ? { response, name } : { response },
  });
  $("passkey-name").value = "";
  say("Passkey added.");
  await loadPasskeys();
});

// --- email, export, deletion -----------------------------------------------------------------------
onSubmit($("email-change-form"), async () => {
  const new_email = $("new-email").value.trim();
  await recent(() => authed("/auth/email/change", { method: "POST", body: { new_email } }));
  $("new-email").value = "";
  say(`We sent a confirmation link to ${new_email}. Your address changes when you open it.`);
});

onClick($("export"), async () => {
  const res = await recent(() => authed("/auth/me/export", { raw: true }));
  const url = URL.createObjectURL(await res.blob());
  const link = el("a");
  link.href = url;
  link.download = "account-export.json";
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  say("Your data was downloaded.");
});

onSubmit($("delete-form"), async () => {
  if (!$("delete-confirm").checked) throw new Error("Tick the box to confirm the deletion first.");
  await recent(() => authed("/auth/me", { method: "DELETE" }));
  signedOut("Your account was deleted.");
});

// --- start -----------------------------------------------------------------------------------------
async function start() {
  if (!loadTokens()) return signedOut();
  try {
    await loadProfile();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signedOut("Your session ended. Sign in again.");
    throw err;
  }
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  await Promise.all([loadSessions(), loadPasskeys()]);
}

start().catch(fail);
