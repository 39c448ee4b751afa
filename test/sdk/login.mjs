// Drives a journey with the official ForgeRock JavaScript SDK, answering name and
// password callbacks, and prints one JSON line describing how it ended. The Go test in
// test/e2e starts a real `arbor serve` and runs this script against it.
//
// usage: node login.mjs BASE_URL JOURNEY USERNAME PASSWORD [REALM]
import { Config, FRAuth, StepType, CallbackType, SessionManager } from '@forgerock/javascript-sdk';

const [baseUrl, tree, username, password, realmPath = 'root'] = process.argv.slice(2);
Config.set({ serverConfig: { baseUrl: baseUrl.endsWith('/') ? baseUrl : baseUrl + '/', timeout: 20000 }, realmPath, tree });

const out = { steps: 0, callbacks: [] };
try {
  let step = await FRAuth.next(undefined, { tree });
  while (step.type === StepType.Step) {
    out.steps++;
    out.header = step.getHeader();
    out.stage = step.getStage();
    for (const cb of step.callbacks) {
      out.callbacks.push(cb.getType());
      if (cb.getType() === CallbackType.NameCallback) cb.setName(username);
      if (cb.getType() === CallbackType.PasswordCallback) cb.setPassword(password);
    }
    if (out.steps > 10) throw new Error('too many steps');
    step = await FRAuth.next(step, { tree });
  }
  if (step.type === StepType.LoginSuccess) {
    out.result = 'success';
    out.token = step.getSessionToken();
    out.realm = step.getRealm();
    out.successUrl = step.getSuccessUrl();
  } else {
    out.result = 'failure';
    out.code = step.getCode();
    out.reason = step.getReason();
    out.message = step.getMessage();
  }
} catch (e) {
  out.result = 'error';
  out.message = String(e && e.stack || e);
}
console.log(JSON.stringify(out));
