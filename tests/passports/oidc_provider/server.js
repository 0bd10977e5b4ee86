// A real OpenID Connect provider for the passports tests: node-oidc-provider with its
// development sign-in pages. Accounts (and the visas their userinfo carries) are read from
// ACCOUNTS_FILE on every look-up, so a test can change them while the provider runs.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const env = process.env;
const port = Number(env.PORT);
const issuer = env.ISSUER || `http://127.0.0.1:${port}`;

function accounts() {
  return JSON.parse(readFileSync(env.ACCOUNTS_FILE, 'utf8'));
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: env.CLIENT_ID,
    client_secret: env.CLIENT_SECRET,
    redirect_uris: [env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  scopes: ['openid', 'email', 'profile', 'ga4gh_passport_v1'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    ga4gh_passport_v1: ['ga4gh_passport_v1'],
  },
  pkce: { required: () => false },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account }; } };
  },
});
provider.proxy = false;

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
