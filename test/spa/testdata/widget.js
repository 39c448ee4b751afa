// The login widget with its default configuration: journey() is oauth: true and
// user: true, so after the journey it gets tokens (a hidden iframe with prompt=none)
// and the user (userinfo). ?journey= names the journey (login, push-mfa).
import Widget, { configuration, journey, component } from '/node_modules/@forgerock/login-widget/index.js';

window.state = { stage: 'loading', events: 0, warnings: [] };
for (const level of ['warn', 'error']) {
  const orig = console[level].bind(console);
  console[level] = (...args) => {
    window.state.warnings.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
    orig(...args);
  };
}
try {
  configuration().set({
    forgerock: {
      serverConfig: { baseUrl: ARBOR.url + '/', timeout: 20000 },
      realmPath: 'root',
      clientId: ARBOR.clientId,
      redirectUri: location.origin + '/silent.html',
      scope: 'openid profile email',
    },
  });
  const events = journey();
  const comp = component();
  comp.subscribe((e) => {
    window.state.component = { mounted: e.mounted, open: e.open, reason: e.reason };
  });
  new Widget({ target: document.getElementById('widget-root') });
  events.subscribe((e) => {
    window.state.events++;
    window.state.journey = { loading: e.journey.loading, successful: e.journey.successful, completed: e.journey.completed, error: e.journey.error };
    window.state.oauth = { loading: e.oauth.loading, successful: e.oauth.successful, completed: e.oauth.completed, error: e.oauth.error, response: e.oauth.response };
    window.state.user = { loading: e.user.loading, successful: e.user.successful, completed: e.user.completed, error: e.user.error, response: e.user.response };
    if (e.user.successful && e.oauth.successful) window.state.stage = 'done';
    else if (e.journey.error || e.oauth.error || e.user.error) window.state.stage = 'error';
    else window.state.stage = 'journey';
  });
  comp.open();
  events.start({ journey: new URLSearchParams(location.search).get('journey') || 'login' });
} catch (e) {
  window.state.stage = 'error';
  window.state.error = String((e && e.stack) || e);
}
