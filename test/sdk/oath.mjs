// Drives the oath-mfa journey with the official ForgeRock JavaScript SDK, as a web app
// would: username and password, "Register device", the QR code (FRQRCode, use "otp")
// added to the reference authenticator (`arbor device register otpauth://...`), the
// first code it shows (`arbor device code`), the recovery codes (FRRecoveryCodes). Then
// a second login types that same code again, which must be refused with "Please wait N
// seconds to log in again." Prints one JSON line describing the run.
//
// usage: node oath.mjs BASE_URL ARBOR_BINARY DEVICE_FILE USER PASSWORD
import { execFileSync } from 'node:child_process';
import { Config, FRAuth, FRQRCode, FRRecoveryCodes, StepType, CallbackType } from '@forgerock/javascript-sdk';

const [baseUrl, arbor, deviceFile, username, password] = process.argv.slice(2);
const tree = 'oath-mfa';
Config.set({ serverConfig: { baseUrl: baseUrl.endsWith('/') ? baseUrl : baseUrl + '/', timeout: 5000 }, realmPath: 'root', tree });

const device = (...args) => execFileSync(arbor, ['device', '--file', deviceFile, ...args], { encoding: 'utf8' });
const out = { steps: 0, registered: false, codes: 0 };

// login runs one login; code() answers a code prompt (null: stop at the prompt and
// return the step).
async function login(code) {
  let step = await FRAuth.next(undefined, { tree });
  while (step.type === StepType.Step) {
    if (++out.steps > 40) throw new Error('too many steps');
    const types = step.callbacks.map((c) => c.getType());
    if (types.includes(CallbackType.NameCallback) && types.includes(CallbackType.PasswordCallback)) {
      step.getCallbackOfType(CallbackType.NameCallback).setName(username);
      step.getCallbackOfType(CallbackType.PasswordCallback).setPassword(password);
    } else if (FRQRCode.isQRCodeStep(step)) {
      const qr = FRQRCode.getQRCodeData(step);
      out.qrUse = qr.use;
      out.qrMessage = qr.message;
      if (!out.registered) {
        device('register', qr.uri);
        out.registered = true;
      }
      out.firstCode = device('code').trim();
      step.getCallbackOfType(CallbackType.NameCallback).setName(out.firstCode);
    } else if (FRRecoveryCodes.isDisplayStep(step)) {
      out.codes = FRRecoveryCodes.getCodes(step).length;
      out.deviceName = FRRecoveryCodes.getDeviceName(step);
    } else if (types.includes(CallbackType.NameCallback)) {
      const msg = step.getCallbacksOfType(CallbackType.TextOutputCallback).map((c) => c.getMessage());
      if (msg.length > 0) {
        return { step, messages: msg };
      }
      out.prompt = step.getCallbackOfType(CallbackType.NameCallback).getPrompt();
      step.getCallbackOfType(CallbackType.NameCallback).setName(code);
    } else if (types.includes(CallbackType.ConfirmationCallback)) {
      // Registration options: the first option is "Register device".
      out.options = step.getCallbackOfType(CallbackType.ConfirmationCallback).getOptions();
      step.getCallbackOfType(CallbackType.ConfirmationCallback).setOptionIndex(0);
    } else {
      throw new Error('unexpected step: ' + types.join(','));
    }
    step = await FRAuth.next(step, { tree });
  }
  return { step };
}

try {
  const first = await login(null);
  out.result = first.step.type === StepType.LoginSuccess ? 'success' : 'failure';
  out.token = first.step.type === StepType.LoginSuccess ? first.step.getSessionToken() : null;
  // The same code again, within its time step: refused, with how long to wait.
  const second = await login(out.firstCode);
  out.reuse = second.messages || null;
  out.reuseResult = second.step.type;
} catch (e) {
  out.result = 'error';
  out.error = String((e && e.stack) || e);
}
console.log(JSON.stringify(out));
