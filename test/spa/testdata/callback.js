// The redirect URI of the redirect mode: exchanges the code for tokens with
// TokenManager.getTokens({query}), then gets the user and logs out when told.
import { TokenManager, UserManager, FRUser } from '@forgerock/javascript-sdk';
import { configure, report, fail, proceed } from './common.js';

try {
  configure({ redirectUri: location.origin + '/callback.html' });
  const q = Object.fromEntries(new URLSearchParams(location.search));
  if (q.error) throw new Error('authorize answered ' + q.error + ': ' + q.error_description);
  const tokens = await TokenManager.getTokens({ query: { code: q.code, state: q.state } });
  const user = await UserManager.getCurrentUser();
  report('tokens', { tokens, user });
  await proceed();
  await FRUser.logout();
  report('loggedOut');
} catch (e) {
  fail(e);
}
