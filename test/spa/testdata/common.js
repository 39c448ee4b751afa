// What every page of the SPA shares: the SDK's configuration, the state the Go test
// reads (window.state), and a pause the test ends (window.proceed()).
import { Config, FRAuth, StepType, CallbackType } from '@forgerock/javascript-sdk';

// state is what the Go test polls: stage names where the page is, error says why it
// stopped, warnings are the SDK's console warnings.
window.state = { stage: 'loading', warnings: [] };
for (const level of ['warn', 'error']) {
  const orig = console[level].bind(console);
  console[level] = (...args) => {
    window.state.warnings.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
    orig(...args);
  };
}

export function report(stage, data = {}) {
  Object.assign(window.state, data, { stage });
}

export function fail(e) {
  report('error', { error: String((e && e.stack) || e) });
}

// proceed resolves when the Go test calls window.proceed(), after checking the server.
export function proceed() {
  return new Promise((resolve) => {
    window.proceed = resolve;
  });
}

// configure sets the SDK up for Arbor. Tokens fetched in a hidden iframe come back to
// silent.html, an empty page, so nothing but the SDK redeems the code; the redirect
// mode comes back to callback.html.
export function configure(extra = {}) {
  Config.set({
    serverConfig: { baseUrl: ARBOR.url + '/', timeout: 20000 },
    realmPath: 'root',
    clientId: ARBOR.clientId,
    redirectUri: location.origin + '/silent.html',
    scope: 'openid profile email',
    tree: 'login',
    logLevel: 'warn',
    ...extra,
  });
}

// login runs the login journey with FRAuth.next, answering the name and password.
export async function login() {
  let step = await FRAuth.next();
  for (let i = 0; step.type === StepType.Step; i++) {
    if (i > 5) throw new Error('too many steps');
    for (const cb of step.callbacks) {
      if (cb.getType() === CallbackType.NameCallback) cb.setName(ARBOR.user);
      if (cb.getType() === CallbackType.PasswordCallback) cb.setPassword(ARBOR.password);
    }
    step = await FRAuth.next(step);
  }
  if (step.type !== StepType.LoginSuccess) {
    throw new Error('the journey did not succeed: ' + JSON.stringify(step.payload));
  }
  return step.getSessionToken();
}
