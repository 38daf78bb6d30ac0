// The hosted sign-in page (GET /login): every way to sign in, the second factor, and the hand-over to an
// allow-listed app (redirect_to) with a one-time code. The server checked redirect_to before rendering
// it here, and POST /auth/handover checks it again: this script is never the guard.
import { $, api, busy, fail, passkeysSupported, saveTokens, say, webauthn } from "./common.js";

const root = $("login");
const redirectTo = root.dataset.redirectTo || null;
let mfaToken = null;
let autofill = null;
// Set once a sign-in succeeded: a second one finishing meanwhile (the autofill passkey ceremony and the
// button's can both complete) must not start a second hand-over or navigation.
let finished = false;

/** Where a finished sign-in goes: the app (through a hand-over) or the account page. */
async function finish(answer) {
  if (finished) return;
  if (answer.mfa_required) {
    mfaToken = answer.mfa_token;
    $("mfa-step").hidden = false;
    say("Enter the code from your authenticator app.");
    $("mfa-code").focus();
    return;
  }
  finished = true;
  saveTokens(answer);
  if (redirectTo) {
    say("Signed in. Returning to the application…");
    const { location: target } = await api("/auth/handover", {
      method: "POST",
      body: { redirect_to: redirectTo },
      auth: true,
    });
    // The hand-over ended this page's session: nothing stays behind in this tab.
    sessionStorage.clear();
    window.location.assign(target);
    return;
  }
  say("Signed in.");
  window.location.assign("/account");
}

function onSubmit(form, handler) {
  // Not every page has every form (the emailed link's page has only its own and the second factor).
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, handler).catch(fail);
  });
}

onSubmit($("password-form"), async () => {
  say("Signing in…");
  await finish(
    await api("/auth/login", {
      method: "POST",
      body: { email: $("login-email").value.trim(), password: $("login-password").value },
    }),
  );
});

const emailLinkForm = $("email-link-form");
if (emailLinkForm) {
  // The token is in the form now: take it out of the address bar and history.
  history.replaceState(null, "", window.location.pathname);
}
onSubmit(emailLinkForm, async () => {
  say("Signing in…");
  const token = emailLinkForm.elements.token.value;
  await finish(await api("/auth/email-login/verify", { method: "POST", body: { token } }));
});

onSubmit($("mfa-form"), async () => {
  if (!mfaToken) throw new Error("Sign in first.");
  say("Checking the code…");
  await finish(
    await api("/auth/2fa/verify", {
      method: "POST",
      body: { mfa_token: mfaToken, code: $("mfa-code").value.trim() },
    }),
  );
});

let emailAddress = "";
onSubmit($("email-form"), async () => {
  emailAddress = $("email-address").value.trim();
  await api("/auth/email-login", { method: "POST", body: { email: emailAddress } });
  $("email-code-form").hidden = false;
  say("If the address can sign in, we sent it a link and a code. Open the link or enter the code.");
  $("email-code").focus();
});

onSubmit($("email-code-form"), async () => {
  say("Checking the code…");
  await finish(
    await api("/auth/email-login/verify", {
      method: "POST",
      body: { email: emailAddress, code: $("email-code").value.trim() },
    }),
  );
});

async function passkeySignIn(useBrowserAutofill) {
  const { startAuthentication } = webauthn();
  const optionsJSON = await api("/auth/passkeys/login/options", { method: "POST", body: {} });
  const response = await startAuthentication({ optionsJSON, useBrowserAutofill });
  say("Signing in with your passkey…");
  await finish(await api("/auth/passkeys/login", { method: "POST", body: { response } }));
}

const passkeyButton = $("passkey-button");
if (!passkeyButton) {
  // A page without passkey sign-in (the emailed link's).
} else if (!passkeysSupported()) {
  passkeyButton.disabled = true;
  passkeyButton.textContent = "Passkeys are not available in this browser";
} else {
  passkeyButton.addEventListener("click", () => {
    if (finished) return;
    // The button's ceremony replaces a pending autofill one (one WebAuthn request at a time).
    webauthn().WebAuthnAbortService.cancelCeremony();
    autofill = null;
    passkeySignIn(false).catch(fail);
  });
  // Conditional mediation: the browser offers saved passkeys in the username field's autofill.
  webauthn()
    .browserSupportsWebAuthnAutofill()
    .then((ok) => {
      if (!ok) return;
      autofill = passkeySignIn(true).catch((err) => {
        // Cancelled by the button or by leaving the page: not an error to show.
        if (autofill && err?.name !== "AbortError") fail(err);
      });
    });
}

for (const link of document.querySelectorAll("a.provider")) {
  // The provider sends the browser back here with a one-time code (never tokens in the URL); the app's
  // redirect_to rides along in this page's own address and is checked again when we come back.
  const back = new URL("/login", window.location.origin);
  if (redirectTo) back.searchParams.set("redirect_to", redirectTo);
  link.href = `${link.getAttribute("href")}?redirect_to=${encodeURIComponent(back.toString())}`;
}

// Back from Google/Facebook (or an app that started here) with ?code=: exchange it, then drop it from the
// address bar and history.
const params = new URLSearchParams(window.location.search);
const code = params.get("code");
if (code) {
  params.delete("code");
  const rest = params.toString();
  history.replaceState(null, "", `/login${rest ? `?${rest}` : ""}`);
  say("Finishing sign-in…");
  api("/auth/oauth/exchange", { method: "POST", body: { code } }).then(finish).catch(fail);
}
