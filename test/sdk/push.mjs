// Drives the push-mfa journey with the official ForgeRock JavaScript SDK, as a web
// app would: username and password, "Register device", the QR code (FRQRCode) scanned
// by the reference authenticator (`arbor device register`), the recovery codes
// (FRRecoveryCodes), then the push wait loop (PollingWaitCallback), answered on the
// "phone" with `arbor device approve|deny`. Prints one JSON line describing the run.
//
// usage: node push.mjs BASE_URL ARBOR_BINARY DEVICE_FILE USER PASSWORD MODE
//   MODE: approve | deny | wrong (approve with a number other than the one shown)
import { execFileSync } from 'node:child_process';
import { Config, FRAuth, FRQRCode, FRRecoveryCodes, StepType, CallbackType } from '@forgerock/javascript-sdk';

const [baseUrl, arbor, deviceFile, username, password, mode] = process.argv.slice(2);
const tree = 'push-mfa';
Config.set({ serverConfig: { baseUrl: baseUrl.endsWith('/') ? baseUrl : baseUrl + '/', timeout: 20000 }, realmPath: 'root', tree });

const device = (...args) => execFileSync(arbor, ['device', '--file', deviceFile, ...args], { encoding: 'utf8' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = { steps: 0, registered: false, codes: 0, answered: false, number: null, polls: 0 };

try {
  let step = await FRAuth.next(undefined, { tree });
  while (step.type === StepType.Step) {
    if (++out.steps > 60) throw new Error('too many steps');
    const types = step.callbacks.map((c) => c.getType());
    if (types.includes(CallbackType.NameCallback) && types.includes(CallbackType.PasswordCallback)) {
      step.getCallbackOfType(CallbackType.NameCallback).setName(username);
      step.getCallbackOfType(CallbackType.PasswordCallback).setPassword(password);
    } else if (FRQRCode.isQRCodeStep(step)) {
      const qr = FRQRCode.getQRCodeData(step);
      out.qrUse = qr.use;
      if (!out.registered) {
        device('register', qr.uri, '--name', 'SDK test phone');
        out.registered = true;
      }
      out.polls++;
      await sleep(Number(step.getCallbackOfType(CallbackType.PollingWaitCallback).getWaitTime()) / 4);
    } else if (FRRecoveryCodes.isDisplayStep(step)) {
      out.codes = FRRecoveryCodes.getCodes(step).length;
      out.deviceName = FRRecoveryCodes.getDeviceName(step);
    } else if (types.includes(CallbackType.PollingWaitCallback)) {
      // The push wait: read the number to match, answer once on the phone, and poll
      // without touching the exit confirmation (its preset 100 means "keep waiting").
      const hidden = step.getCallbacksOfType(CallbackType.HiddenValueCallback)
        .find((c) => c.getOutputByName('id', '') === 'pushChallengeNumber');
      out.number = hidden ? Number(hidden.getOutputByName('value', '')) : null;
      out.message = step.getCallbackOfType(CallbackType.PollingWaitCallback).getMessage();
      if (!out.answered) {
        if (mode === 'deny') {
          device('deny');
        } else if (mode === 'wrong') {
          const offered = device('pending').match(/pick the number shown on the login page: ([\d ]+)/)[1].trim().split(/\s+/).map(Number);
          // The reference authenticator reports the server's refusal of a wrong number by
          // exiting 1 with "the server denied the login": that refusal is what this mode expects.
          try {
            device('approve', '--number', String(offered.find((n) => n !== out.number)));
            throw new Error('the server accepted a wrong number');
          } catch (e) {
            if (!String(e.stderr || e.message).includes('the server denied the login')) throw e;
            out.wrongRefused = true;
          }
        } else {
          device('approve', '--number', String(out.number));
        }
        out.answered = true;
      }
      out.polls++;
      await sleep(Number(step.getCallbackOfType(CallbackType.PollingWaitCallback).getWaitTime()));
    } else if (types.includes(CallbackType.ConfirmationCallback)) {
      // Registration options: the first option is "Register device".
      out.options = step.getCallbackOfType(CallbackType.ConfirmationCallback).getOptions();
      step.getCallbackOfType(CallbackType.ConfirmationCallback).setOptionIndex(0);
    } else {
      throw new Error('unexpected step: ' + types.join(','));
    }
    step = await FRAuth.next(step, { tree });
  }
  if (step.type === StepType.LoginSuccess) {
    out.result = 'success';
    out.token = step.getSessionToken();
  } else {
    out.result = 'failure';
    out.code = step.getCode();
    out.message = step.getMessage();
  }
} catch (e) {
  out.result = 'error';
  out.error = String((e && e.stack) || e);
}
console.log(JSON.stringify(out));
