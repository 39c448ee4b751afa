// The SPA's main page. ?mode=iframe signs in with FRAuth.next, then gets tokens with
// TokenManager.getTokens() (a hidden iframe with prompt=none, support: 'legacy'), the
// user with UserManager.getCurrentUser(), and logs out with FRUser.logout() once the Go
// test has looked. ?mode=redirect gets tokens with no session: the iframe answers
// login_required, so the SDK sends the whole page to authorize, which signs in on
// Arbor's pages and comes back to callback.html.
import { TokenManager, TokenStorage, UserManager, FRUser } from '@forgerock/javascript-sdk';
import { configure, login, report, fail, proceed } from './common.js';

const mode = new URLSearchParams(location.search).get('mode');
try {
  if (mode === 'iframe') {
    configure({ support: 'legacy' });
    report('journey');
    const tokenId = await login();
    report('getTokens', { tokenId });
    const tokens = await TokenManager.getTokens({ forceRenew: true });
    const user = await UserManager.getCurrentUser();
    report('tokens', { tokens, user });
    await proceed();
    await FRUser.logout();
    report('loggedOut', { stored: (await TokenStorage.get()) ?? null });
  } else if (mode === 'redirect') {
    configure({ redirectUri: location.origin + '/callback.html' });
    report('redirecting');
    await TokenManager.getTokens({ login: 'redirect', forceRenew: true });
  } else {
    throw new Error('unknown mode ' + mode);
  }
} catch (e) {
  fail(e);
}
